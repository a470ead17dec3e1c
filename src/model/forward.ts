/**
 * The forward pass of the llama family (llama, mistral, qwen2, qwen3), top to bottom like llama2.c's
 * forward(). Token ids in, logits out. Every canonical capture point (src/trace/types.ts) is handed to
 * one read-only hook; the architecture differences are the architecture table's facts (src/formats/
 * architectures.ts) and the tensors present.
 */
import {
  add, causalAttention, linear, norm, storeRows, swigluOf,
} from "../graph/blocks.js";
import { Arena, scratch, withArena } from "../graph/scratch.js";
import { getRow, rmsNorm, rope, type Numerics, type RopeOptions } from "../bindings/kernels.js";
import type { PointKind } from "../trace/types.js";
import { InputError } from "../util/errors.js";
import type { ArchFacts } from "../formats/architectures.js";
import type { Config, RunState, Weights } from "./types.js";

/**
 * Read-only observer: must not modify x (capture never changes what is computed). A layer's tensors are
 * reused buffers (src/graph/scratch.ts): x may be read until the hook has been handed the next layer's
 * l_out (the embeddings and the head's points until forward() returns); copy what is kept longer.
 */
export type CaptureFn = (point: PointKind, layer: number | null, x: Float32Array, shape: number[]) => void;

export interface Model {
  config: Config;
  weights: Weights;
  /** The architecture table's row for config.arch. */
  arch: ArchFacts;
  rope: RopeOptions;
  mode: Numerics;
  /** Layers run in exact numerics whatever `mode` says (an experiment: is a difference precision?); nLayer = the output head. */
  exactLayers?: ReadonlySet<number>;
}

export interface ForwardOptions {
  capture?: CaptureFn;
  /** Logits for every position of the batch (traces) or only the last (generation). */
  logits: "all" | "last";
  /** Keep the attention probabilities for the kq_softmax point. */
  keepKq?: boolean;
  /** Layer isolation: run layers [from, to) starting from `input` ([T, nEmbd], the output of layer from-1). */
  from?: number;
  to?: number;
  input?: Float32Array;
  /** Run the final norm and output projection after the last layer (default true). */
  head?: boolean;
}

const noCapture: CaptureFn = () => {};

/** Rows of token_embd for each token (ggml GET_ROWS: each row dequantized exactly). */
export function embed(m: Model, tokens: ArrayLike<number>): Float32Array {
  const { tokenEmbd: e } = m.weights;
  const n = m.config.nEmbd;
  const x = new Float32Array(tokens.length * n);
  for (let t = 0; t < tokens.length; t++) {
    const id = tokens[t];
    if (!Number.isInteger(id) || id < 0 || id >= e.rows) throw new InputError(`token id ${id} is outside the vocabulary (0..${e.rows - 1})`);
    getRow(e, id, x.subarray(t * n, (t + 1) * n)); // honours padded rows (rowBytes) and APR_Q8's scale
  }
  return x;
}

/** One transformer block on the residual stream x ([T, nEmbd]); returns the new stream. */
export function layer(m: Model, l: number, x: Float32Array, pos: Int32Array, st: RunState, o: ForwardOptions): Float32Array {
  const c = m.config, w = m.weights.layers[l], cap = o.capture ?? noCapture;
  const mode: Numerics = m.exactLayers?.has(l) ? "exact" : m.mode;
  const T = pos.length, E = c.nEmbd, hd = c.headDim, qDim = c.nHead * hd, kvDim = c.nHeadKv * hd;

  // attention: RMSNorm, q/k/v projections (+ biases when the file has them)
  const h = norm(x, T, E, w.attnNorm, c.rmsEps, mode);
  cap("attn_norm", l, h, [T, E]);
  const q = linear(h, T, w.wq, w.bq, mode);
  cap("q", l, q, [T, qDim]);
  const k = linear(h, T, w.wk, w.bk, mode);
  cap("k", l, k, [T, kvDim]);
  const v = linear(h, T, w.wv, w.bv, mode);
  cap("v", l, v, [T, c.nHeadKv * c.headDimV]);

  // qwen3: per-head RMSNorm of q and k; then rotate both by position: into their own buffers when an
  // observer may still read q and k (a captured tensor is never modified), else in place (no copy)
  let qr = q, kr = k;
  if (m.arch.qkNorm) {
    qr = scratch(q.length);
    kr = scratch(k.length);
    rmsNorm(q, w.qNorm, qr, T * c.nHead, hd, c.rmsEps, mode);
    rmsNorm(k, w.kNorm, kr, T * c.nHeadKv, hd, c.rmsEps, mode);
  } else if (o.capture) {
    qr = scratch(q.length);
    kr = scratch(k.length);
    qr.set(q);
    kr.set(k);
  }
  rope(qr, T, c.nHead, hd, pos, m.rope, mode);
  cap("q_rope", l, qr, [T, qDim]);
  rope(kr, T, c.nHeadKv, hd, pos, m.rope, mode);
  cap("k_rope", l, kr, [T, kvDim]);

  // the new keys and values join the cache; causal attention over everything cached so far
  storeRows(st.kCache[l], kr, st.nPast, T, kvDim, st.kvStride);
  storeRows(st.vCache[l], v, st.nPast, T, c.nHeadKv * c.headDimV, st.kvStride);
  const att = causalAttention({
    q: qr, kCache: st.kCache[l], vCache: st.vCache[l], kvStride: st.kvStride, T, nPast: st.nPast,
    nHead: c.nHead, nHeadKv: c.nHeadKv, headDim: hd, mode, keepProbs: !!o.keepKq,
  });
  if (att.probs) cap("kq_softmax", l, att.probs, [c.nHead, T, st.nPast + T]);
  cap("attn", l, att.out, [T, qDim]);
  const attnOut = linear(att.out, T, w.wo, w.bo, mode);
  cap("attn_out", l, attnOut, [T, E]);

  // residual, then the SwiGLU feed-forward block
  const ffnInp = add(x, attnOut, E);
  cap("ffn_inp", l, ffnInp, [T, E]);
  const h2 = norm(ffnInp, T, E, w.ffnNorm, c.rmsEps, mode);
  cap("ffn_norm", l, h2, [T, E]);
  const gate = linear(h2, T, w.wGate, null, mode);
  cap("ffn_gate", l, gate, [T, c.nFf]);
  const up = linear(h2, T, w.wUp, null, mode);
  cap("ffn_up", l, up, [T, c.nFf]);
  const act = swigluOf(gate, up, mode, c.nFf);
  cap("ffn_act", l, act, [T, c.nFf]);
  const down = linear(act, T, w.wDown, null, mode);
  cap("ffn_out", l, down, [T, E]);
  const out = add(ffnInp, down, E);
  cap("l_out", l, out, [T, E]);
  return out;
}

/** Final norm and output projection: [T, nEmbd] -> logits [T or 1, nVocab]. */
export function head(m: Model, x: Float32Array, T: number, o: ForwardOptions): Float32Array {
  const c = m.config, cap = o.capture ?? noCapture;
  const mode: Numerics = m.exactLayers?.has(c.nLayer) ? "exact" : m.mode;
  const h = norm(x, T, c.nEmbd, m.weights.outputNorm, c.rmsEps, mode);
  cap("result_norm", null, h, [T, c.nEmbd]);
  const rows = o.logits === "all" ? T : 1;
  const logits = linear(h.subarray((T - rows) * c.nEmbd), rows, m.weights.output, null, mode);
  cap("logits", null, logits, [rows, c.nVocab]);
  return logits;
}

/**
 * Runs a batch of tokens at positions st.nPast.. and advances the cache. Returns the logits
 * ([T, nVocab] for logits "all", else [1, nVocab]).
 */
export function forward(m: Model, tokens: ArrayLike<number>, st: RunState, o: ForwardOptions): Float32Array {
  const T = tokens.length, c = m.config;
  if (T < 1) throw new RangeError("forward: empty batch");
  if (st.nPast + T > st.nCtx) throw new RangeError(`forward: ${st.nPast + T} positions exceed the context of ${st.nCtx}`);
  const pos = Int32Array.from({ length: T }, (_, i) => st.nPast + i);
  const from = o.from ?? 0, to = o.to ?? c.nLayer;

  // token embeddings (or, when isolating layers, the supplied residual stream)
  let x: Float32Array;
  if (o.input) {
    if (o.input.length !== T * c.nEmbd) throw new RangeError(`forward: input has ${o.input.length} elements, expected ${T * c.nEmbd}`);
    x = Float32Array.from(o.input);
  } else {
    x = embed(m, tokens);
    (o.capture ?? noCapture)("embd", null, x, [T, c.nEmbd]);
  }

  // layer l's buffers come from arena l % 2: its input, layer l - 1's output, is the other arena's. A
  // pass started from inside another (a capture hook that runs the model) must not overwrite the outer
  // pass's buffers, which may be shared by every state of an engine: it gets arenas of its own.
  const arenas: [Arena, Arena] = passesRunning > 0 ? [new Arena(), new Arena()] : (st.arenas ??= [new Arena(), new Arena()]);
  passesRunning++;
  try {
    for (let l = from; l < to; l++) {
      const input = x;
      x = withArena(arenas[l % 2], () => layer(m, l, input, pos, st, o));
    }

    // the result outlives the arenas (the next pass reuses them): logits are fresh arrays, a last
    // layer's output is copied out
    const logits = to === c.nLayer && o.head !== false ? head(m, x, T, o) : to > from ? x.slice() : x;
    st.nPast += T;
    return logits;
  } finally {
    passesRunning--;
  }
}

/** forward() calls in progress (more than one only when a capture hook runs a model). */
let passesRunning = 0;

/**
 * A fresh KV cache for nCtx positions. Its rows are padded by 16 floats: packed, a row of 2 or 4 KV
 * heads (1 or 2 KB) repeats every 4 KB, so attention's reads of successive keys fell into a few L1 sets
 * and evicted each other (docs/engine.md, "KV cache rows padded").
 */
export function newRunState(c: Config, nCtx: number): RunState {
  const kvStride = Math.max(c.nHeadKv * c.headDim, c.nHeadKv * c.headDimV) + KV_ROW_PAD;
  return {
    nCtx,
    nPast: 0,
    kCache: Array.from({ length: c.nLayer }, () => new Float32Array(nCtx * kvStride)),
    vCache: Array.from({ length: c.nLayer }, () => new Float32Array(nCtx * kvStride)),
    kvStride,
  };
}

/** Floats added to each KV cache row (64 bytes). */
const KV_ROW_PAD = 16;

/** Greedy choice: the first index of the largest logit (llama.cpp's greedy sampler). */
export function argmax(logits: Float32Array, offset = 0, n = logits.length - offset): number {
  let best = 0, bv = -Infinity;
  for (let i = 0; i < n; i++) {
    if (logits[offset + i] > bv) { bv = logits[offset + i]; best = i; }
  }
  return best;
}
