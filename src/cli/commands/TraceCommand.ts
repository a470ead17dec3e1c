/**
 * `rosetta trace <model> --engine <engine> (--prompt TEXT | --tokens IDS) --out FILE`: runs one engine over
 * one input, capturing every canonical point (docs/capture-points.md), and writes a trace
 * (docs/trace-format.md). Engines plug in through ENGINES below; the llama.cpp engine is the external
 * reference (src/reference/llamacpp.ts), loaded lazily so rosetta works without it.
 */
import { statSync } from "node:fs";
import path from "node:path";

import type { CommandModule } from "yargs";

import { isHfFolder } from "../../formats/hf.js";
import { traceBase, writeTrace } from "../../trace/io.js";
import type { F32Tensor } from "../../trace/safetensors.js";
import type { Trace } from "../../trace/types.js";
import { InputError } from "../../util/errors.js";
import { checkWritable } from "../output.js";

export interface TraceArgs {
  model: string;
  engine: string;
  prompt?: string;
  tokens?: string;
  gen: number;
  tensors?: string;
  top: number;
  threads: number;
  backend: string;
  repack: boolean;
  out: string;
  numerics?: string; // rosetta engine
  isa?: string; // rosetta engine
  quiet?: boolean; // global -q
}

export interface EngineRequest {
  model: string;
  prompt?: string;
  tokens?: number[];
  gen: number;
  full: string[];
  top: number;
  threads: number;
  backend: string;
  repack: boolean;
  numerics?: string; // rosetta engine: ggml | exact
  isa?: string; // rosetta engine: scalar | avx2 | avx512
}

type EngineRunner = (r: EngineRequest) => Promise<{ trace: Trace; tensors: Map<string, F32Tensor> }>;

/** Each engine is imported on use: a missing optional component only matters to its own engine. */
export const ENGINES: Record<string, EngineRunner> = {
  "llama.cpp": async (r) => {
    if (await isHfFolder(r.model)) throw new InputError(`${r.model} is a Hugging Face folder; llama.cpp runs GGUF files (trace the folder with --engine rosetta)`);
    const { runLlamaCppTrace } = await import("../../reference/llamacpp.js");
    return runLlamaCppTrace({
      model: r.model,
      prompt: r.prompt,
      tokens: r.tokens,
      gen: r.gen,
      full: r.full,
      top: r.top,
      threads: r.threads,
      backend: r.backend,
      useExtraBufts: r.repack,
    });
  },
  rosetta: async (r) => {
    const { runRosettaTrace } = await import("../../model/trace-run.js");
    if (r.numerics !== undefined && r.numerics !== "ggml" && r.numerics !== "exact") throw new InputError(`--numerics must be ggml or exact, got '${r.numerics}'`);
    if (r.isa !== undefined && r.isa !== "scalar" && r.isa !== "avx2" && r.isa !== "avx512") throw new InputError(`--isa must be scalar, avx2 or avx512, got '${r.isa}'`);
    return runRosettaTrace({
      model: r.model, prompt: r.prompt, tokens: r.tokens, gen: r.gen, full: r.full, top: r.top, threads: r.threads,
      numerics: r.numerics as "ggml" | "exact" | undefined, isa: r.isa as "scalar" | "avx2" | "avx512" | undefined,
    });
  },
};

export function parseTokenList(s: string): number[] {
  const parts = s.split(/[\s,]+/).filter((p) => p.length > 0);
  if (parts.length === 0) throw new InputError("--tokens is empty");
  return parts.map((p) => {
    if (!/^\d+$/.test(p)) throw new InputError(`--tokens: '${p}' is not a token id (non-negative integer)`);
    return Number(p);
  });
}

/** `--tensors` alone means every point; otherwise a comma-separated list of globs over point keys. */
export function parseTensorFilter(v: string | undefined): string[] {
  if (v === undefined) return [];
  const s = String(v).trim();
  if (s === "" || s === "true") return ["*"];
  return s.split(",").map((p) => p.trim()).filter((p) => p.length > 0);
}

export async function traceHandler(a: TraceArgs): Promise<string> {
  const run = ENGINES[a.engine];
  if (!run) throw new InputError(`unknown engine '${a.engine}' (known: ${Object.keys(ENGINES).join(", ")})`);
  if ((a.prompt === undefined) === (a.tokens === undefined)) throw new InputError("give exactly one of --prompt or --tokens");
  for (const [flag, v, min] of [["--gen", a.gen, 0], ["--top", a.top, 0], ["--threads", a.threads, 1]] as const)
    if (!Number.isInteger(v) || v < min) throw new InputError(`${flag} must be an integer >= ${min}`);
  if (/[\\/]$/.test(a.out) || statSync(a.out, { throwIfNoEntry: false })?.isDirectory()) throw new InputError(`--out ${a.out}: is a directory; give a file base name (e.g. ${path.join(a.out, "trace")})`);
  checkWritable(traceBase(a.out) + ".json", "--out");
  const { trace, tensors } = await run({
    model: a.model,
    prompt: a.prompt,
    tokens: a.tokens !== undefined ? parseTokenList(String(a.tokens)) : undefined,
    gen: a.gen,
    full: parseTensorFilter(a.tensors),
    top: a.top,
    threads: a.threads,
    backend: a.backend,
    repack: a.repack,
    numerics: a.numerics,
    isa: a.isa,
  });
  try {
    return writeTrace(a.out, trace, tensors);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (typeof code !== "string") throw e;
    throw new InputError(`--out ${a.out}: cannot write the trace (${code})`);
  }
}

export const traceCommand: CommandModule<object, TraceArgs> = {
  command: "trace <model>",
  describe: "Run one engine over a prompt and write a trace of every capture point",
  builder: (y) =>
    y
      .positional("model", { type: "string", demandOption: true, description: "GGUF model file (APR file or Hugging Face folder: --engine rosetta only)" })
      .option("engine", { type: "string", demandOption: true, choices: Object.keys(ENGINES), description: "Engine to run" })
      .option("prompt", { alias: "p", type: "string", description: "Prompt text (tokenized by the engine's tokenizer)" })
      .option("tokens", { type: "string", description: "Prompt token ids, comma or space separated" })
      .option("gen", { type: "number", default: 0, description: "Greedy decode steps after the prompt (one token each)" })
      .option("tensors", { type: "string", description: "Keep full tensors: alone = all points, else globs over point keys (blk.0.*,logits)" })
      .option("top", { type: "number", default: 10, description: "Top-k logits recorded per position" })
      .option("threads", { type: "number", default: 1, description: "Compute threads" })
      .option("backend", { type: "string", default: "default", description: "llama.cpp CPU variant: default (haswell|sse42|x64), auto, or a variant name" })
      .option("repack", { type: "boolean", default: false, description: "llama.cpp weight repacking (use_extra_bufts)" })
      .option("numerics", { type: "string", description: "rosetta engine: ggml (emulate llama.cpp's CPU numerics, default) or exact (f64)" })
      .option("isa", { type: "string", description: "rosetta engine: force a kernel path (scalar, avx2, avx512)" })
      .option("out", { type: "string", demandOption: true, description: "Output base: writes <out>.json (+ <out>.safetensors)" })
      .example('rosetta trace model.gguf --engine llama.cpp -p "Hello" --tensors --out ref', "ref.json + ref.safetensors, to compare later: rosetta mine.gguf ref.json")
      .example("rosetta trace model.apr --engine rosetta --tokens 1,2,3 --gen 4 --out mine", "summaries only, 4 decode steps")
      .epilogue("Exit codes: 0 ok, 2 bad input or usage, 3 internal error."),
  handler: async (a) => {
    const file = await traceHandler(a);
    // -q: only warnings and errors on stderr
    if (!a.quiet) process.stderr.write(`rosetta: wrote ${file}\n`);
  },
};
