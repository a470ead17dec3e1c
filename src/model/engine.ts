/**
 * The engine: opens a model file (weights stay in a read-only mapping), runs prefill and greedy decode
 * through forward(), and records the settings that change numerics.
 */
import os from "node:os";

import { ARCHITECTURES } from "../formats/architectures.js";
import { loadModel } from "../formats/index.js";
import type { LoadedModel } from "../formats/model.js";
import { currentIsa, setIsa, setThreads, type Numerics } from "../bindings/kernels.js";
import { ModelBytes } from "../formats/bytes.js";
import { UnsupportedError, InputError } from "../util/errors.js";
import { Arena } from "../graph/scratch.js";
import { argmax, forward, newRunState, type CaptureFn, type Model } from "./forward.js";
import { ropeOptions } from "./rope-params.js";
import type { EngineSettings, RunState } from "./types.js";
import { loadWeights } from "./weights.js";

export interface EngineOptions {
  numerics?: Numerics; // default "ggml"
  threads?: number; // default: number of cores
  isa?: "scalar" | "avx2" | "avx512"; // default: best the CPU runs (or ROSETTA_ISA)
  /** The file already loaded by the caller (same path): not loaded, nor its layout logged, again. */
  loaded?: LoadedModel;
}

export interface GenerateOptions {
  nGen: number;
  capture?: CaptureFn;
  keepKq?: boolean;
  /** Called before each step: 0 = the prompt, 1..nGen = decode steps. */
  onStep?: (step: number, firstPos: number, tokens: number) => void;
  /** Logits of every prompt position (traces) or of the last one only. */
  promptLogits?: "all" | "last";
  /** Teacher forcing: step s consumes forced[s-1] instead of the greedy choice. */
  forced?: number[];
}

export interface GenerateResult {
  generated: number[];
  /** Logits per step: [T, nVocab] for the prompt ("all"), [1, nVocab] per decode step. */
  logits: Float32Array[];
}

export class Engine {
  readonly model: Model;
  readonly settings: EngineSettings;
  private closed = false;
  private readonly arenas: [Arena, Arena] = [new Arena(), new Arena()];

  private constructor(readonly file: LoadedModel, private readonly mapping: ModelBytes, opts: EngineOptions) {
    const c = file.config;
    if (c.headDimV !== c.headDim) throw new UnsupportedError(`${file.path}: value head dim ${c.headDimV} differs from key head dim ${c.headDim}`);
    const weights = loadWeights(file, mapping);
    const mode = opts.numerics ?? "ggml";
    if (opts.isa) {
      try {
        setIsa(opts.isa);
      } catch (e) {
        throw new UnsupportedError(`--isa ${opts.isa}: ${(e as Error).message}`);
      }
    }
    const threads = setThreads(opts.threads ?? os.availableParallelism());
    this.model = { config: c, weights, arch: ARCHITECTURES[c.arch], rope: ropeOptions(c, weights.ropeFreqs), mode };
    this.settings = { numerics: mode, threads, isa: currentIsa() };
  }

  static async open(path: string, opts: EngineOptions = {}): Promise<Engine> {
    if (opts.numerics && opts.numerics !== "ggml" && opts.numerics !== "exact") {
      throw new InputError(`numerics must be ggml or exact, got ${String(opts.numerics)}`);
    }
    const file = opts.loaded ?? (await loadModel(path));
    const mapping = new ModelBytes(file.path);
    try {
      return new Engine(file, mapping, opts);
    } catch (e) {
      mapping.close();
      throw e;
    }
  }

  /**
   * A fresh KV cache for nCtx positions. Every state of this engine shares one pair of activation
   * arenas (src/graph/scratch.ts): a prompt's buffers are the last prompt's, not newly allocated and
   * faulted in (at two threads that cost a 1.5B model's 64-token prefill 2.4%: docs/engine.md, "Buffers").
   */
  newState(nCtx: number): RunState {
    return { ...newRunState(this.model.config, nCtx), arenas: this.arenas };
  }

  /** Prefill `prompt` in one batch, then greedy-decode nGen tokens one at a time with the KV cache. */
  generate(prompt: number[], o: GenerateOptions): GenerateResult {
    if (this.closed) throw new Error("engine is closed");
    if (prompt.length < 1) throw new InputError("the prompt has no tokens");
    const st = this.newState(prompt.length + Math.max(0, o.nGen));
    o.onStep?.(0, 0, prompt.length);
    const logits = [forward(this.model, prompt, st, { capture: o.capture, keepKq: o.keepKq, logits: o.promptLogits ?? "last" })];
    const generated: number[] = [];
    const nV = this.model.config.nVocab;
    // as the llama.cpp bridge does: every generated token is also decoded (nGen decode steps)
    for (let s = 1; s <= o.nGen; s++) {
      const last = logits[logits.length - 1];
      const f = o.forced?.[s - 1];
      if (f !== undefined && !(Number.isInteger(f) && f >= 0 && f < nV)) throw new InputError(`forced token id ${f} is outside the vocabulary (0..${nV - 1})`);
      const next = f ?? argmax(last, last.length - nV, nV);
      generated.push(next);
      o.onStep?.(s, st.nPast, 1);
      logits.push(forward(this.model, [next], st, { capture: o.capture, keepKq: o.keepKq, logits: "last" }));
    }
    return { generated, logits };
  }

  close(): void {
    if (!this.closed) this.mapping.close();
    this.closed = true;
  }
}
