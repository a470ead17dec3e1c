/**
 * `npm run bench:decode`: `rosetta A B --gen N` for N = 50, 500 and 2000 on stories260K (../shared/models,
 * context 2048; rosetta's ggml numerics against its exact numerics, teacher-forced), the whole CLI in its own process: wall
 * time, the in-process phases (JSON `timings`) and peak RSS, to show both grow linearly in N. A benchmark,
 * never a test (issue 17: `--gen 2044` used to take 114 s and 1 GB).
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";



const NS = (process.env.BENCH_GEN ?? "50,500,2000").split(",").map(Number);

async function main(): Promise<void> {
  const model = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../../shared/models/stories260K.gguf");
  if (!existsSync(model)) throw new Error(`${model} is absent: bench:decode needs ../shared/models/stories260K.gguf`);
  const dir = mkdtempSync(path.join(os.tmpdir(), "rosetta-bench-decode-"));
  const main = pathToFileURL(path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../src/cli/main.js")).href;
  // the CLI in-process, then its peak RSS on stderr's last line
  const code = `import { main } from ${JSON.stringify(main)}; const c = await main(process.argv.slice(1)); process.stderr.write("\\nRSS " + process.resourceUsage().maxRSS + "\\n"); process.exitCode = c;`;
  try {
    const rows: string[] = [];
    for (const n of NS) {
      const json = path.join(dir, `g${n}.json`);
      const t0 = performance.now();
      const r = spawnSync(process.execPath, ["--input-type=module", "-e", code, model, model, "--numerics-b", "exact", "--tokens", "1,17,42", "--gen", String(n), "--json", json, "-q"], { encoding: "utf8", maxBuffer: 256 << 20 });
      const wall = (performance.now() - t0) / 1000;
      if (r.status !== 0 && r.status !== 1) throw new Error(`--gen ${n}: exit ${r.status}: ${r.stderr}`);
      const rss = Number(/RSS (\d+)/.exec(r.stderr)?.[1] ?? NaN) / 1024;
      const rep = JSON.parse(readFileSync(json, "utf8"));
      const t = rep.timings as Record<string, number>;
      rows.push(`--gen ${String(n).padStart(5)}: ${wall.toFixed(2).padStart(6)} s wall, ${(wall / n * 1000).toFixed(2)} ms/step; in-process total ${(t.total / 1000).toFixed(2)} s (runA ${t.runA}, runB ${t.runB}, compare ${t.compare} ms); peak RSS ${rss.toFixed(0)} MB; ${rep.points.length} points; text report ${r.stdout.split("\n").length} lines`);
      console.log(`[bench:decode] ${rows[rows.length - 1]}`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
