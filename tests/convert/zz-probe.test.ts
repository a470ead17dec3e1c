import { it } from "vitest";
import { writeFileSync } from "node:fs";
import { getFixture } from "../../tests/fixtures/lib/index.js";
import { loadGguf } from "../../src/formats/gguf.js";
import { convertGgufToApr } from "../../src/convert/to-apr.js";
import { runRosettaTrace } from "../../src/model/trace-run.js";
it("probe", async () => {
  for (const arch of ["llama","qwen2","qwen3"] as const) for (const type of ["F32","Q4_K_M","Q6_K"]) {
    const f = await getFixture(arch, type);
    const g = await loadGguf(f, { logLayout: false });
    const types = new Set(g.tensors.map(t => t.typeName));
    const out = `/tmp/aprrun/${arch}-${type}.apr`;
    writeFileSync(out, await convertGgufToApr(f));
    let msg = "";
    try {
      const a = await runRosettaTrace({ model: out, prompt: "Hello world", gen: 2 });
      const b = await runRosettaTrace({ model: f, prompt: "Hello world", gen: 2 });
      msg = `apr tokens ${a.trace.input.tokens} gguf ${b.trace.input.tokens} points ${a.trace.points.length}/${b.trace.points.length} same=${JSON.stringify(a.trace.points)===JSON.stringify(b.trace.points)}`;
    } catch (e) { msg = "ERR " + (e as Error).message; }
    console.log(arch, type, [...types].join(","), msg);
  }
}, 300000);
