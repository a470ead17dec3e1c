/**
 * The defect injector: a model variant carrying exactly one named, known defect, written as APR or GGUF.
 * The comparator's tests are built on these (docs/defects.md lists them). Spec: `NAME[:ROLE][@LAYER][=VALUE]`,
 * e.g. `transpose:attn_q@1`, `rms-eps=1e-2`, `swap-gate-up@3`. The layer defaults to 0.
 */
import { GgufType } from "../formats/gguf-writer.js";
import type { LayerRole, Role } from "../formats/model.js";
import { GLOBAL_ROLES, LAYER_ROLES } from "../formats/model.js";
import { roleOfName } from "../formats/roles.js";
import { InputError, UnsupportedError } from "../util/errors.js";
import { f32Bytes, findRole, toF32, type IrTensor, type ModelIr } from "./ir.js";

export interface DefectSpec {
  name: string;
  role?: Role;
  layer: number;
  value?: number;
}

export interface DefectInfo {
  name: string;
  syntax: string;
  what: string;
  /** Output formats that can carry it. */
  formats: ("apr" | "gguf")[];
}

export const DEFECTS: DefectInfo[] = [
  { name: "transpose", syntax: "transpose:ROLE[@L]", what: "weight stored transposed: data and dims (layout log: TRANSPOSE NEEDED)", formats: ["apr", "gguf"] },
  { name: "transpose-data", syntax: "transpose-data:ROLE[@L]", what: "weight data transposed, dims unchanged (square weights look fine, values wrong)", formats: ["apr", "gguf"] },
  { name: "qk-permute", syntax: "qk-permute[@L]", what: "Q and K rows permuted within each head (interleaved <-> halves, the HF/GGUF rope permutation)", formats: ["apr", "gguf"] },
  { name: "swap-qk", syntax: "swap-qk[@L]", what: "attn_q and attn_k exchanged (needs n_head == n_head_kv)", formats: ["apr", "gguf"] },
  { name: "swap-gate-up", syntax: "swap-gate-up[@L]", what: "ffn_gate and ffn_up exchanged", formats: ["apr", "gguf"] },
  { name: "rms-eps", syntax: "rms-eps[=V]", what: "wrong RMSNorm epsilon in the metadata (default 1e-2)", formats: ["apr", "gguf"] },
  { name: "rope-base", syntax: "rope-base[=V]", what: "wrong RoPE base in the metadata (default 500000)", formats: ["apr", "gguf"] },
  { name: "rope-layout", syntax: "rope-layout", what: "NORM <-> NEOX RoPE layout flipped (APR rope_type; GGUF has no such key)", formats: ["apr"] },
  { name: "q4k-scales-mins", syntax: "q4k-scales-mins:ROLE[@L]", what: "one Q4_K tensor's 6-bit sub-block scales and mins exchanged", formats: ["apr", "gguf"] },
  { name: "embed-shift", syntax: "embed-shift", what: "token embeddings shifted by one row (row t holds token t+1's)", formats: ["apr", "gguf"] },
  { name: "drop-bias", syntax: "drop-bias[:ROLE][@L]", what: "a bias tensor removed (default attn_q_bias)", formats: ["apr", "gguf"] },
  { name: "lm-head-wrong", syntax: "lm-head-wrong[:ROLE]", what: "output head taken from the wrong tensor (default token_embd) instead of output.weight", formats: ["apr", "gguf"] },
];

const ROLES = new Set<string>([...GLOBAL_ROLES, ...LAYER_ROLES]);

export function parseDefect(spec: string): DefectSpec {
  const m = /^([a-z0-9-]+)(?::([a-z_]+))?(?:@(\d+))?(?:=(.+))?$/.exec(spec.trim());
  if (!m || !DEFECTS.some((d) => d.name === m[1])) {
    throw new InputError(`--inject ${JSON.stringify(spec)}: unknown defect (known: ${DEFECTS.map((d) => d.syntax).join(", ")})`);
  }
  if (m[2] && !ROLES.has(m[2])) throw new InputError(`--inject ${spec}: unknown role '${m[2]}'`);
  const value = m[4] === undefined ? undefined : Number(m[4]);
  if (value !== undefined && !Number.isFinite(value)) throw new InputError(`--inject ${spec}: value '${m[4]}' is not a number`);
  return { name: m[1], role: m[2] as Role | undefined, layer: m[3] ? Number(m[3]) : 0, value };
}

function need(ir: ModelIr, role: Role, layer: number | null, d: DefectSpec): IrTensor {
  const t = findRole(ir, role, GLOBAL_ROLES.includes(role as never) ? null : layer);
  if (!t) throw new UnsupportedError(`--inject ${d.name}: ${ir.source} has no ${role}${layer === null || GLOBAL_ROLES.includes(role as never) ? "" : ` in layer ${layer}`}`);
  return t;
}

function rowBytes(t: IrTensor): number {
  return t.data.length / t.dims[0];
}

/** Rows reordered: new row i = old row perm[i] (any type: rows are contiguous byte ranges). */
function permuteRows(t: IrTensor, perm: number[]): void {
  const rb = rowBytes(t);
  const src = t.data.slice();
  const out = new Uint8Array(t.data.length);
  perm.forEach((p, i) => out.set(src.subarray(p * rb, (p + 1) * rb), i * rb));
  t.data = out;
}

function transposeF32(t: IrTensor, dimsToo: boolean): void {
  if (t.dims.length !== 2) throw new UnsupportedError(`transpose: ${t.name} is not a matrix`);
  const [r, c] = t.dims;
  const x = toF32(t);
  const y = new Float32Array(x.length);
  for (let i = 0; i < r; i++) for (let j = 0; j < c; j++) y[j * r + i] = x[i * c + j];
  t.type = 0;
  t.data = f32Bytes(y);
  if (dimsToo) t.dims = [c, r];
}

function setKv(ir: ModelIr, key: string, value: number, type = GgufType.FLOAT32): void {
  ir.gguf = { ...ir.gguf, [key]: { type, value } };
}

/** Exchange the eight 6-bit scales with the eight 6-bit mins in every super-block of a Q4_K tensor. */
export function swapQ4kScalesMins(data: Uint8Array): Uint8Array {
  const out = data.slice();
  for (let b = 0; b + 144 <= out.length; b += 144) {
    const s = out.subarray(b + 4, b + 16);
    const sc: number[] = [], mn: number[] = [];
    for (let j = 0; j < 8; j++) {
      if (j < 4) { sc.push(s[j] & 63); mn.push(s[j + 4] & 63); }
      else { sc.push((s[j + 4] & 0xf) | ((s[j - 4] >> 6) << 4)); mn.push((s[j + 4] >> 4) | ((s[j] >> 6) << 4)); }
    }
    const [nsc, nmn] = [mn, sc];
    for (let j = 0; j < 4; j++) {
      s[j] = (nsc[j] & 63) | ((nsc[j + 4] >> 4) << 6);
      s[j + 4] = (nmn[j] & 63) | ((nmn[j + 4] >> 4) << 6);
      s[j + 8] = (nsc[j + 4] & 0xf) | ((nmn[j + 4] & 0xf) << 4);
    }
  }
  return out;
}

/** Apply one defect to the model in place. */
export function injectDefect(ir: ModelIr, d: DefectSpec, format: "apr" | "gguf"): void {
  const info = DEFECTS.find((x) => x.name === d.name)!;
  if (!info.formats.includes(format)) throw new UnsupportedError(`--inject ${d.name} cannot be expressed in a ${format.toUpperCase()} file (${info.what})`);
  const c = ir.config;
  const L = d.layer;
  if (L >= c.nLayer) throw new InputError(`--inject ${d.name}@${L}: the model has ${c.nLayer} layers`);
  const a = ir.arch;
  switch (d.name) {
    case "transpose":
    case "transpose-data":
      if (!d.role) throw new InputError(`--inject ${d.name} needs a role, e.g. ${d.name}:attn_q`);
      return transposeF32(need(ir, d.role, L, d), d.name === "transpose");
    case "qk-permute": {
      for (const [role, heads] of [["attn_q", c.nHead], ["attn_k", c.nHeadKv]] as [LayerRole, number][]) {
        const t = need(ir, role, L, d);
        const hd = t.dims[0] / heads;
        const perm: number[] = [];
        for (let h = 0; h < heads; h++) for (const par of [0, 1]) for (let i = par; i < hd; i += 2) perm.push(h * hd + i);
        permuteRows(t, perm);
      }
      return;
    }
    case "swap-qk":
    case "swap-gate-up": {
      const [r1, r2]: LayerRole[] = d.name === "swap-qk" ? ["attn_q", "attn_k"] : ["ffn_gate", "ffn_up"];
      const t1 = need(ir, r1, L, d), t2 = need(ir, r2, L, d);
      if (t1.dims.join() !== t2.dims.join() || t1.type !== t2.type) {
        throw new UnsupportedError(`--inject ${d.name}: ${t1.name} [${t1.dims}] and ${t2.name} [${t2.dims}] differ in shape or type (needs n_head == n_head_kv)`);
      }
      [t1.data, t2.data] = [t2.data, t1.data];
      return;
    }
    case "rms-eps":
      ir.aprOverrides.rms_norm_eps = d.value ?? 1e-2;
      return setKv(ir, `${a}.attention.layer_norm_rms_epsilon`, d.value ?? 1e-2);
    case "rope-base":
      ir.aprOverrides.rope_theta = d.value ?? 500000;
      return setKv(ir, `${a}.rope.freq_base`, d.value ?? 500000);
    case "rope-layout":
      ir.aprOverrides.rope_type = c.ropeLayout === "neox" ? 0 : 2;
      return;
    case "q4k-scales-mins": {
      if (!d.role) throw new InputError(`--inject q4k-scales-mins needs a role, e.g. q4k-scales-mins:ffn_down`);
      const t = need(ir, d.role, L, d);
      if (t.type !== 12) throw new UnsupportedError(`--inject q4k-scales-mins: ${t.name} is not Q4_K in the input (defects are injected before --quantize; start from a GGUF holding Q4_K, e.g. a Q4_K_M file, or pick a Q4_K tensor)`);
      t.data = swapQ4kScalesMins(t.data);
      return;
    }
    case "embed-shift": {
      const t = need(ir, "token_embd", null, d);
      permuteRows(t, Array.from({ length: t.dims[0] }, (_, i) => (i + 1) % t.dims[0]));
      return;
    }
    case "drop-bias": {
      const role = d.role ?? "attn_q_bias";
      const t = need(ir, role, L, d);
      ir.tensors = ir.tensors.filter((x) => x !== t);
      return;
    }
    case "lm-head-wrong": {
      const src = need(ir, d.role ?? "token_embd", L, d);
      const out = findRole(ir, "output", null);
      if (out && out.dims.join() !== src.dims.join()) throw new UnsupportedError(`--inject lm-head-wrong: ${src.name} [${src.dims}] does not have the output head's shape [${out.dims}]`);
      if (!out && src.name === need(ir, "token_embd", null, d).name) {
        throw new UnsupportedError(`--inject lm-head-wrong: the model's head is tied to token_embd already; name another tensor of shape [vocab, n_embd]`);
      }
      // llama2.c exports (stories260K) store output.weight as a byte copy of token_embd: no defect to inject
      if (out && out.type === src.type && Buffer.compare(Buffer.from(out.data), Buffer.from(src.data)) === 0) {
        throw new UnsupportedError(`--inject lm-head-wrong: ${out.name} already equals ${src.name} byte for byte (a tied head stored twice); name another tensor of shape [vocab, n_embd]`);
      }
      const copy: IrTensor = { name: "output.weight", type: src.type, dims: [...src.dims], data: src.data };
      ir.tensors = ir.tensors.filter((x) => roleOfName(x.name)?.role !== "output").concat(copy);
      ir.aprOverrides.tied_embeddings = false;
      return;
    }
  }
}
