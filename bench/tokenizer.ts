/**
 * Tokenizer throughput: 1 MB of seeded mixed text (many scripts, code, emoji, whitespace, digits) through
 * rosetta's tokenizer and through llama.cpp's (node-llama-cpp, the pinned libllama), alternating runs.
 *
 * Each vocabulary runs in a fresh child process, so "first" is a genuinely cold run: nothing JIT-compiled,
 * no Unicode flags computed, an empty BPE word cache. Prints the tokenizer construction time (GGUF read
 * included), rosetta's first run, the median of the following runs for each side, and whether the ids agree.
 * On a shared machine wall time depends on the load, so rosetta's first run is also given as process CPU time
 * (all threads: JIT compiler and GC included).
 *
 *   npm run bench:tokenizer [-- RUNS]
 */
import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";

import { loadTokenizer } from "../src/tokenizer/index.js";
import { llamaSource } from "../tests/helpers/llamaSource.js";
import { generateText } from "../tests/tokenizer/corpus.js";

const VOCABS = ["llama-spm", "llama-bpe", "qwen2", "gpt-2"];

interface Result {
  vocab: string;
  tokens: number;
  construct: number;
  first: number;
  firstCpu: number;
  median: number;
  llamaFirst?: number;
  llamaMedian?: number;
  equal?: boolean;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

/** Result, wall seconds, process CPU seconds. */
function time<T>(f: () => T): [T, number, number] {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const r = f();
  const wall = (performance.now() - t0) / 1000;
  const c = process.cpuUsage(c0);
  return [r, wall, (c.user + c.system) / 1e6];
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
async function loadLlama(): Promise<any> {
  try {
    const { getLlama } = await import("node-llama-cpp");
    return await getLlama({ gpu: false, build: "never", logLevel: "error" as never });
  } catch (e) {
    console.error(`(llama.cpp timing skipped: node-llama-cpp not loadable: ${(e as Error).message})`);
    return undefined;
  }
}

/** Child: one vocabulary, `runs` + 1 alternating runs; prints one JSON line. */
async function child(name: string, runs: number, modelsDir: string): Promise<void> {
  const text = generateText(42, 1 << 20);
  const path = join(modelsDir, `ggml-vocab-${name}.gguf`);
  const t0 = performance.now();
  const tok = await loadTokenizer(path);
  const construct = (performance.now() - t0) / 1000;
  const llama = await loadLlama();
  const model = llama ? await llama.loadModel({ modelPath: path, vocabOnly: true }) : undefined;
  const ours: number[] = [];
  const theirs: number[] = [];
  let firstCpu = 0;
  let ids: number[] = [];
  let llamaIds: number[] | undefined;
  for (let i = 0; i < runs + 1; i++) {
    const [r, t, cpu] = time(() => tok.tokenize(text, { addSpecial: false }));
    ids = r;
    ours.push(t);
    if (i === 0) firstCpu = cpu;
    if (model) {
      const [lr, lt] = time(() => model.tokenize(text, false) as number[]);
      llamaIds = Array.from(lr);
      theirs.push(lt);
    }
  }
  const result: Result = { vocab: name, tokens: ids.length, construct, first: ours[0], firstCpu, median: median(ours.slice(1)) };
  if (llamaIds) {
    result.llamaFirst = theirs[0];
    result.llamaMedian = median(theirs.slice(1));
    result.equal = llamaIds.length === ids.length && llamaIds.every((x, k) => x === ids[k]);
  }
  await model?.dispose();
  await llama?.dispose();
  process.stdout.write(`RESULT ${JSON.stringify(result)}\n`);
}

async function main(): Promise<void> {
  const src = llamaSource(["models"]);
  if (!src.dir) throw new Error(`need the llama.cpp vocabularies: ${src.reason}`);
  const modelsDir = join(src.dir, "models");
  if (process.argv[2] === "--child") return child(process.argv[3], Number(process.argv[4]), modelsDir);
  const runs = Number(process.argv[2] ?? 5);
  const text = generateText(42, 1 << 20);
  console.log(`text: ${Buffer.byteLength(text)} bytes, ${text.length} UTF-16 units; 1 + ${runs} runs each, alternating; one process per vocab`);
  console.log("vocab       tokens  construct  rosetta first (cpu)  rosetta median  llama.cpp first  llama.cpp median  ids equal");
  const fmt = (s: number | undefined) => (s === undefined ? "-" : `${s.toFixed(3)} s`);
  let ok = true;
  for (const name of VOCABS) {
    let out: string;
    try {
      // stderr is piped, not shown: node-llama-cpp logs its vocab-only load "failure" there
      out = execFileSync(process.execPath, [fileURLToPath(import.meta.url), "--child", name, String(runs)], {
        encoding: "utf8",
        stdio: ["ignore", "pipe", "pipe"],
        maxBuffer: 1 << 24,
      });
    } catch (e) {
      const err = String((e as { stderr?: string }).stderr ?? "").trim().split("\n").slice(-5).join("\n");
      throw new Error(`bench child for ${name} failed:\n${err || (e as Error).message}`);
    }
    const line = out.split("\n").find((l) => l.startsWith("RESULT "));
    if (!line) throw new Error(`bench child for ${name} printed no result`);
    const r = JSON.parse(line.slice(7)) as Result;
    ok &&= r.equal !== false;
    console.log(
      `${name.padEnd(10)} ${String(r.tokens).padStart(7)}  ${fmt(r.construct).padStart(9)}  ` +
        `${`${fmt(r.first)} (${r.firstCpu.toFixed(2)})`.padStart(19)}  ` +
        `${fmt(r.median).padStart(14)}  ${fmt(r.llamaFirst).padStart(15)}  ${fmt(r.llamaMedian).padStart(16)}  ` +
        `${r.equal === undefined ? "-" : r.equal ? "yes" : "NO"}`,
    );
  }
  if (!ok) process.exitCode = 1;
}

main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
