/**
 * Tokenizer throughput: 1 MB of seeded mixed text (many scripts, code, emoji, whitespace, digits) through
 * rosetta's tokenizer and through llama.cpp's (node-llama-cpp, the pinned libllama), alternating runs.
 * Prints the cold first run and the median of the warm runs for each, and checks the ids agree.
 *
 *   npm run bench:tokenizer [-- RUNS]
 */
import { join } from "node:path";
import { performance } from "node:perf_hooks";

import { loadTokenizer } from "../src/tokenizer/index.js";
import { llamaSource } from "../tests/helpers/llamaSource.js";
import { generateText } from "../tests/tokenizer/corpus.js";

const VOCABS = ["llama-spm", "llama-bpe", "qwen2", "gpt-2"];
const RUNS = Number(process.argv[2] ?? 5);

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

function time<T>(f: () => T): [T, number] {
  const t0 = performance.now();
  const r = f();
  return [r, (performance.now() - t0) / 1000];
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
async function loadLlama(): Promise<any> {
  try {
    const { getLlama } = await import("node-llama-cpp");
    return await getLlama({ gpu: false, build: "never", logLevel: "error" as never });
  } catch (e) {
    console.log(`(llama.cpp timing skipped: node-llama-cpp not loadable: ${(e as Error).message})`);
    return undefined;
  }
}

async function main(): Promise<void> {
  const src = llamaSource(["models"]);
  if (!src.dir) throw new Error(`need the llama.cpp vocabularies: ${src.reason}`);
  const text = generateText(42, 1 << 20);
  console.log(`text: ${Buffer.byteLength(text)} bytes, ${text.length} UTF-16 units; ${RUNS} runs each, alternating`);
  const llama = await loadLlama();
  console.log("vocab       tokens   rosetta cold  rosetta median  llama.cpp median  ids equal");
  for (const name of VOCABS) {
    const path = join(src.dir, "models", `ggml-vocab-${name}.gguf`);
    const tok = await loadTokenizer(path);
    const model = llama ? await llama.loadModel({ modelPath: path, vocabOnly: true }) : undefined;
    const ours: number[] = [];
    const theirs: number[] = [];
    let ids: number[] = [];
    let llamaIds: number[] | undefined;
    for (let i = 0; i < RUNS + 1; i++) {
      const [r, t] = time(() => tok.tokenize(text, { addSpecial: false }));
      ids = r;
      ours.push(t);
      if (model) {
        const [lr, lt] = time(() => model.tokenize(text, false) as number[]);
        llamaIds = lr;
        theirs.push(lt);
      }
    }
    const equal = llamaIds ? (JSON.stringify(Array.from(llamaIds)) === JSON.stringify(ids) ? "yes" : "NO") : "-";
    const fmt = (s: number) => `${s.toFixed(3)} s`;
    console.log(
      `${name.padEnd(10)} ${String(ids.length).padStart(7)}   ${fmt(ours[0]).padStart(12)}  ${fmt(median(ours.slice(1))).padStart(14)}  ` +
        `${(theirs.length ? fmt(median(theirs.slice(1))) : "-").padStart(16)}  ${equal}`,
    );
    await model?.dispose();
  }
  await llama?.dispose();
}

main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
