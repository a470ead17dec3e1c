/**
 * `rosetta trace --engine rosetta`: runs rosetta's own forward pass over a prompt (one batch) and greedy
 * decode steps, and returns a Trace in the same format as the llama.cpp runner (src/reference/llamacpp.ts).
 */
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import path from "node:path";

import type { LoadedModel } from "../formats/model.js";

import { loadTokenizer, tokenizerFromModel } from "../tokenizer/index.js";
import { traceMetadata } from "../trace/io.js";
import type { F32Tensor } from "../trace/safetensors.js";
import { contextOverflow, TRACE_FORMAT, TRACE_FORMAT_VERSION, type Trace, type TraceLogits, type TraceRunOptions } from "../trace/types.js";
import { InputError } from "../util/errors.js";
import { fileSha256 } from "../util/file-digest.js";
import { logger } from "../util/log.js";
import { keyFilter, Recorder } from "./capture.js";
import { Engine, type EngineOptions } from "./engine.js";
import type { Numerics } from "../bindings/kernels.js";

export interface RosettaTraceOptions extends TraceRunOptions {
  numerics?: Numerics;
  isa?: EngineOptions["isa"];
  /** Also capture the attention probabilities (kq_softmax). */
  kq?: boolean;
  /** An engine already open on `model` (the caller keeps and closes it); numerics/threads/isa then come from it. */
  engine?: Engine;
  /** Record the model file's sha256 (default true; a comparison that never saves the trace skips it). */
  hash?: boolean;
}

export const TOKENIZER_ROSETTA = "rosetta tokenizer (addSpecial=true, parseSpecial=false)";

/** sha256 of the files' bytes in order (a model file; a Hugging Face folder's config.json, then its safetensors files). */
async function sha256(files: string[]): Promise<string> {
  if (files.length === 1) return fileSha256(files[0]); // streamed once and cached by file identity (src/util/file-digest.ts)
  const h = createHash("sha256");
  for (const file of files) for await (const chunk of createReadStream(file)) h.update(chunk as Buffer);
  return h.digest("hex");
}

function modelFiles(m: LoadedModel): string[] {
  if (m.format !== "hf") return [m.path];
  return [path.join(m.path, "config.json"), ...new Set(m.tensors.map((t) => t.file ?? m.path))];
}

/** Top-k ids (descending logit, lower id first on ties) of one row. */
function topK(row: Float32Array, k: number): { ids: number[]; logits: number[] } {
  const idx = Array.from(row.keys());
  idx.sort((a, b) => row[b] - row[a] || a - b);
  const ids = idx.slice(0, Math.min(k, row.length));
  return { ids, logits: ids.map((i) => row[i]) };
}

async function resolveTokens(o: RosettaTraceOptions): Promise<{ tokens: number[]; tokenizer?: string }> {
  if (o.tokens && o.prompt !== undefined) throw new InputError("give either a prompt or token ids, not both");
  if (o.tokens) return { tokens: o.tokens };
  if (o.prompt === undefined) throw new InputError("give a prompt (--prompt) or token ids (--tokens)");
  // an APR file's loaded metadata carries its whole tokenizer; the GGUF loader's does not (arrays are read lazily)
  const tok = o.engine && o.engine.file.format !== "gguf" ? tokenizerFromModel(o.engine.file) : await loadTokenizer(o.model);
  const tokens = tok.tokenize(o.prompt, { addSpecial: true, parseSpecial: false });
  if (tokens.length === 0) throw new InputError("the prompt tokenizes to no tokens");
  return { tokens, tokenizer: TOKENIZER_ROSETTA };
}

/** Progress on stderr for long decodes: at most one line a second, so short runs stay quiet. */
function stepProgress(model: string, gen: number): (step: number) => void {
  const log = logger("engine");
  const t0 = Date.now();
  let last = t0;
  return (step) => {
    const now = Date.now();
    if (step === 0 || now - last < 1000) return;
    last = now;
    log.info({ detail: { model, step, of: gen } }, `decode step ${step}/${gen} (${((now - t0) / 1000).toFixed(1)} s)`);
  };
}

export async function runRosettaTrace(o: RosettaTraceOptions): Promise<{ trace: Trace; tensors: Map<string, F32Tensor> }> {
  const { tokens, tokenizer } = await resolveTokens(o);
  const gen = o.gen ?? 0;
  const k = o.top ?? 10;
  const full = keyFilter(o.full ?? []);
  const engine = o.engine ?? (await Engine.open(o.model, { numerics: o.numerics, threads: o.threads, isa: o.isa }));
  try {
    const c = engine.model.config;
    for (const t of tokens) {
      if (!Number.isInteger(t) || t < 0 || t >= c.nVocab) throw new InputError(`${o.model}: token id ${t} is outside the vocabulary (0..${c.nVocab - 1})`);
    }
    const overflow = contextOverflow(o.model, c.nCtxTrain, tokens.length, gen);
    if (overflow) throw new InputError(overflow);
    const rec = new Recorder(full);
    const progress = stepProgress(o.modelLabel ?? o.model, gen);
    const r = engine.generate(tokens, {
      nGen: gen, capture: rec.hook, keepKq: !!o.kq, promptLogits: "all", forced: o.forced,
      onStep: (s, p, n) => {
        rec.beginStep(s, p, n);
        progress(s);
      },
    });
    const V = c.nVocab;
    const rows = r.logits.flatMap((l) => Array.from({ length: l.length / V }, (_, i) => l.subarray(i * V, (i + 1) * V)));
    const logits: TraceLogits = { k, top: rows.map((row, pos) => ({ pos, ...topK(row, k) })) };
    const tensors = rec.tensors;
    if (full("logits")) {
      const all = new Float32Array(rows.length * V);
      rows.forEach((row, i) => all.set(row, i * V));
      logits.tensor = "logits.all";
      tensors.set("logits.all", { shape: [rows.length, V], data: all });
    }
    const trace: Trace = {
      format: TRACE_FORMAT,
      version: TRACE_FORMAT_VERSION,
      engine: {
        name: "rosetta",
        settings: {
          ...engine.settings,
          kvType: "f32",
          flashAttention: false,
          batchLayout: "prompt as one batch; each generated token its own decode",
          logitsAllPositions: true,
          ...(tokenizer ? { tokenizer } : {}),
        },
      },
      model: {
        path: o.modelLabel ?? o.model,
        ...(o.hash === false ? {} : { sha256: await sha256(modelFiles(engine.file)) }),
        arch: c.arch,
        format: engine.file.format,
        config: { ...c, ropeScaling: { ...c.ropeScaling } } as unknown as Record<string, unknown>,
        ...(engine.file.format === "gguf" ? { metadata: traceMetadata(engine.file.metadata) } : {}),
      },
      input: { ...(o.prompt !== undefined ? { prompt: o.prompt } : {}), tokens, generated: r.generated, ...(o.forced?.length ? { forced: true } : {}) },
      points: rec.points,
      logits,
      createdAt: new Date().toISOString(),
    };
    return { trace, tensors };
  } finally {
    if (!o.engine) engine.close();
  }
}
