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
import { unmatchedGlobs } from "../../pipeline/run-comparison.js";
import { InputError } from "../../util/errors.js";
import { logger } from "../../util/log.js";
import { checkWritable } from "../output.js";
import { checkConditions, parseConditionsSpec, type RunConditions } from "../../reference/conditions.js";

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
  dtype?: string; // transformers engine
  quiet?: boolean; // global -q
  device?: string; // llama.cpp engine
  "gpu-layers"?: number; // llama.cpp engine
  conditions?: string; // llama.cpp engine
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
  dtype?: string; // transformers engine: float32 | bfloat16 | float16
  conditions?: RunConditions; // llama.cpp engine
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
      conditions: r.conditions,
    });
  },
  rosetta: async (r) => {
    if (r.conditions) throw new InputError("--device, --gpu-layers and --conditions set run conditions of llama.cpp: give --engine llama.cpp");
    const { runRosettaTrace } = await import("../../model/trace-run.js");
    if (r.numerics !== undefined && r.numerics !== "ggml" && r.numerics !== "exact") throw new InputError(`--numerics must be ggml or exact, got '${r.numerics}'`);
    if (r.isa !== undefined && r.isa !== "scalar" && r.isa !== "avx2" && r.isa !== "avx512") throw new InputError(`--isa must be scalar, avx2 or avx512, got '${r.isa}'`);
    return runRosettaTrace({
      model: r.model, prompt: r.prompt, tokens: r.tokens, gen: r.gen, full: r.full, top: r.top, threads: r.threads,
      numerics: r.numerics as "ggml" | "exact" | undefined, isa: r.isa as "scalar" | "avx2" | "avx512" | undefined,
    });
  },
  transformers: async (r) => {
    const { runTransformersTrace, TRANSFORMERS_DTYPES } = await import("../../reference/transformers.js");
    if (r.dtype !== undefined && !(TRANSFORMERS_DTYPES as readonly string[]).includes(r.dtype)) throw new InputError(`--dtype must be one of ${TRANSFORMERS_DTYPES.join(", ")}, got '${r.dtype}'`);
    return runTransformersTrace({ model: r.model, prompt: r.prompt, tokens: r.tokens, gen: r.gen, full: r.full, top: r.top, threads: r.threads, dtype: r.dtype as "float32" | undefined });
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

/** --device, --gpu-layers, --conditions as run conditions (undefined when none is given). */
function traceConditions(a: TraceArgs): RunConditions | undefined {
  if (a.device === undefined && a["gpu-layers"] === undefined && a.conditions === undefined) return undefined;
  const c = a.conditions !== undefined ? parseConditionsSpec(a.conditions) : {};
  return checkConditions({ ...c, ...(a.device !== undefined ? { device: a.device } : {}), ...(a["gpu-layers"] !== undefined ? { gpuLayers: a["gpu-layers"] } : {}) });
}

export async function traceHandler(a: TraceArgs): Promise<string> {
  const run = ENGINES[a.engine];
  if (!run) throw new InputError(`unknown engine '${a.engine}' (known: ${Object.keys(ENGINES).join(", ")})`);
  if ((a.prompt === undefined) === (a.tokens === undefined)) throw new InputError("give exactly one of --prompt or --tokens");
  // options of another engine are an error, never silently dropped
  const owned: [string, string, boolean][] = [
    ["--numerics", "rosetta", a.numerics !== undefined],
    ["--isa", "rosetta", a.isa !== undefined],
    [`--backend ${a.backend}`, "llama.cpp", a.backend !== undefined && a.backend !== "default"],
    ["--repack", "llama.cpp", !!a.repack],
    ["--device", "llama.cpp", a.device !== undefined],
    ["--gpu-layers", "llama.cpp", a["gpu-layers"] !== undefined],
    ["--conditions", "llama.cpp", a.conditions !== undefined],
    ["--dtype", "transformers", a.dtype !== undefined],
  ];
  const foreign = owned.filter(([, engine, given]) => given && engine !== a.engine);
  if (foreign.length) {
    const what = foreign.map(([flag, engine]) => `${flag} applies to the ${engine} engine`).join("; ");
    const own = owned.filter(([, engine]) => engine === a.engine).map(([flag]) => flag.split(" ")[0]);
    throw new InputError(`${what}, not to --engine ${a.engine}${own.length ? ` (its options: ${own.join(", ")})` : ""}`);
  }
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
    dtype: a.dtype,
    conditions: traceConditions(a),
  });
  for (const w of unmatchedGlobs("--tensors", a.tensors === undefined ? undefined : parseTensorFilter(a.tensors), trace)) logger("trace").warn(w);
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
      .positional("model", { type: "string", demandOption: true, description: "GGUF model file (APR file: --engine rosetta only; Hugging Face folder: --engine rosetta or transformers)" })
      .option("engine", { type: "string", demandOption: true, choices: Object.keys(ENGINES), description: "Engine to run" })
      .option("prompt", { alias: "p", type: "string", description: "Prompt text (tokenized by the engine's tokenizer)" })
      .option("tokens", { type: "string", description: "Prompt token ids, comma or space separated" })
      .option("gen", { type: "number", default: 0, description: "Greedy decode steps after the prompt (one token each)" })
      .option("tensors", { type: "string", description: "Keep full tensors: alone = all points, else globs over point keys (blk.0.*,logits); a glob matching no point is a warning" })
      .option("top", { type: "number", default: 10, description: "Top-k logits recorded per position" })
      .option("threads", { type: "number", default: 1, description: "Compute threads" })
      .option("backend", { type: "string", default: "default", description: "llama.cpp engine: CPU variant, default (haswell|sse42|x64), auto, or a variant name (an error with another engine); a variant other than haswell is recorded as a run condition (cpu=NAME): compared with rosetta in the conditions band, not as bit-identical" })
      .option("repack", { type: "boolean", default: false, description: "llama.cpp engine: weight repacking (use_extra_bufts; on an AMX CPU with --backend auto, ggml's AMX kernels; an error with another engine); recorded as a run condition (repack): compared with rosetta in the conditions band" })
      .option("numerics", { type: "string", description: "rosetta engine: ggml (emulate llama.cpp's CPU numerics, default) or exact (f64) (an error with another engine)" })
      .option("isa", { type: "string", description: "rosetta engine: force a kernel path, scalar, avx2 or avx512 (an error with another engine)" })
      .option("dtype", { type: "string", description: "transformers engine: the torch dtype the model runs in (float32 default, bfloat16, float16); needs `npm run python:setup` (an error with another engine)" })
      .option("device", { type: "string", description: "llama.cpp engine: cpu (default), vulkan or vulkan:N (docs/conditions.md; llvmpipe needs GGML_VK_VISIBLE_DEVICES=0)" })
      .option("gpu-layers", { type: "number", description: "llama.cpp engine: layers offloaded to --device (default all, -1)" })
      .option("conditions", { type: "string", description: "llama.cpp engine: run conditions 'fa=on kv=q8_0 batch=N ubatch=N' (default: flash attention off, F32 K/V, the prompt as one ubatch)" })
      .option("out", { type: "string", demandOption: true, description: "Output base: writes <out>.json (+ <out>.safetensors)" })
      .example('rosetta trace model.gguf --engine llama.cpp -p "Hello" --tensors --out ref', "ref.json + ref.safetensors, to compare later: rosetta mine.gguf ref.json")
      .example("rosetta trace model.apr --engine rosetta --tokens 1,2,3 --gen 4 --out mine", "summaries only, 4 decode steps")
      .example("rosetta trace hf-model/ --engine transformers --tokens 1,2,3 --tensors --out hf", "a Hugging Face folder in PyTorch (CPU, float32)")
      .epilogue("Exit codes: 0 ok, 2 bad input or usage, 3 internal error."),
  handler: async (a) => {
    const file = await traceHandler(a);
    // -q: only warnings and errors on stderr
    if (!a.quiet) process.stderr.write(`rosetta: wrote ${file}\n`);
  },
};
