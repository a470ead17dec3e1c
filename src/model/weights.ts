/**
 * Weights: views of the role tensors inside the file mapping. Matmul weights are never copied; norms,
 * biases and rope factors (vectors) are decoded to f32 once.
 */
import type { LoadedModel, ModelConfig, TensorView } from "../formats/model.js";
import { roleKey, type Role } from "../formats/model.js";
import { dequantize, type ByteSource } from "../bindings/kernels.js";
import { InputError } from "../util/errors.js";
import type { ModelBytes } from "../formats/bytes.js";
import type { LayerWeights, MatWeight, Weights } from "./types.js";

/**
 * A counterfactual: tensors taken from elsewhere (another file's mapping, or an in-memory repair) by role
 * key, and a config to build with. Used by experiments (src/pipeline/lab.ts); a plain load passes none.
 */
export interface WeightOverrides {
  config?: ModelConfig;
  take?: (key: string) => { view: TensorView; source: ByteSource } | undefined;
}

let current: WeightOverrides | undefined;

function lookup(m: LoadedModel, key: string, bytes: ModelBytes): { v: TensorView | undefined; source: ByteSource } {
  const o = current?.take?.(key);
  if (o) return { v: o.view, source: o.source };
  const v = m.byRole.get(key);
  return { v, source: v ? bytes.source(v) : new Uint8Array(0) };
}

function need(m: LoadedModel, role: Role, layer: number | null): TensorView {
  const v = m.byRole.get(roleKey(role, layer));
  if (!v) throw new InputError(`${m.path}: tensor ${roleKey(role, layer)} is missing`);
  return v;
}

function mat(base: ModelBytes, m: LoadedModel, role: Role, layer: number | null, rows: number, cols: number): MatWeight {
  const { v: found, source } = lookup(m, roleKey(role, layer), base);
  const v = found ?? need(m, role, layer);
  if (v.dims.length !== 2 || v.dims[0] !== rows || v.dims[1] !== cols) {
    throw new InputError(`${m.path}: ${v.name} has shape [${v.dims}] (row-major), expected [${rows}, ${cols}]`);
  }
  const w: MatWeight = { source, offset: v.offset, type: v.type, typeName: v.typeName, rows, cols };
  if (v.rowBytes !== undefined) w.rowBytes = v.rowBytes;
  return w;
}

function vec(base: ModelBytes, m: LoadedModel, role: Role, layer: number | null, n: number, optional = false): Float32Array | null {
  const { v, source } = lookup(m, roleKey(role, layer), base);
  if (!v) {
    if (optional) return null;
    throw new InputError(`${m.path}: tensor ${roleKey(role, layer)} is missing`);
  }
  const count = v.dims.reduce((a, b) => a * b, 1);
  if (count !== n) throw new InputError(`${m.path}: ${v.name} has ${count} elements, expected ${n}`);
  return dequantize({ source, offset: v.offset, type: v.type, nElements: n, name: v.name });
}

export function loadWeights(m: LoadedModel, source: ModelBytes, overrides?: WeightOverrides): Weights {
  current = overrides;
  try {
    return build(m, source, overrides?.config ?? m.config);
  } finally {
    current = undefined;
  }
}

function build(m: LoadedModel, source: ModelBytes, c: ModelConfig): Weights {
  const qDim = c.nHead * c.headDim, kDim = c.nHeadKv * c.headDim, vDim = c.nHeadKv * c.headDimV;
  const layers: LayerWeights[] = [];
  for (let l = 0; l < c.nLayer; l++) {
    layers.push({
      attnNorm: vec(source, m, "attn_norm", l, c.nEmbd)!,
      wq: mat(source, m, "attn_q", l, qDim, c.nEmbd),
      wk: mat(source, m, "attn_k", l, kDim, c.nEmbd),
      wv: mat(source, m, "attn_v", l, vDim, c.nEmbd),
      wo: mat(source, m, "attn_output", l, c.nEmbd, c.nHead * c.headDimV),
      bq: vec(source, m, "attn_q_bias", l, qDim, true),
      bk: vec(source, m, "attn_k_bias", l, kDim, true),
      bv: vec(source, m, "attn_v_bias", l, vDim, true),
      bo: vec(source, m, "attn_output_bias", l, c.nEmbd, true),
      qNorm: vec(source, m, "attn_q_norm", l, c.headDim, !c.qkNorm),
      kNorm: vec(source, m, "attn_k_norm", l, c.headDim, !c.qkNorm),
      ffnNorm: vec(source, m, "ffn_norm", l, c.nEmbd)!,
      wGate: mat(source, m, "ffn_gate", l, c.nFf, c.nEmbd),
      wUp: mat(source, m, "ffn_up", l, c.nFf, c.nEmbd),
      wDown: mat(source, m, "ffn_down", l, c.nEmbd, c.nFf),
    });
  }
  const tokenEmbd = mat(source, m, "token_embd", null, c.nVocab, c.nEmbd);
  return {
    tokenEmbd,
    outputNorm: vec(source, m, "output_norm", null, c.nEmbd)!,
    output: m.byRole.has("output") || current?.take?.("output") ? mat(source, m, "output", null, c.nVocab, c.nEmbd) : tokenEmbd,
    ropeFreqs: vec(source, m, "rope_freqs", null, c.ropeDim / 2, true),
    layers,
  };
}
