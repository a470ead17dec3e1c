import { test } from "vitest";
import { Engine } from "../../src/model/engine.js";
import { pointKey } from "../../src/trace/types.js";
import { nmse, TINYLLAMA } from "../model/helpers.js";
async function run(isa: "scalar" | "avx2") {
  const e = await Engine.open(TINYLLAMA, { numerics: "ggml", isa });
  const pts = new Map<string, Float32Array>(); let step = 0;
  e.generate([1, 450, 4996, 17354, 1701], { nGen: 20, onStep: (s) => (step = s), capture: (p, l, x) => pts.set(`s${step}.${pointKey(p, l)}`, Float32Array.from(x)) });
  e.close(); return pts;
}
test("x", async () => {
  const a = await run("scalar"), b = await run("avx2");
  const rows: string[] = [];
  for (const [k, v] of a) { const d = nmse(v, b.get(k)!); if (d > 1e-8) rows.push(`${k} ${d.toExponential(2)} l2=${Math.hypot(...v).toFixed(3)} n=${v.length}`); }
  console.log(rows.slice(0, 30).join("\n"));
}, 60000);
