/**
 * transformers' model-addition debugger (`transformers.model_debugging_utils.model_addition_debugger_context`)
 * as a rosetta trace, summaries only. It writes `<Class>_debug_tree_SUMMARY.json` and
 * `<Class>_debug_tree_FULL_TENSORS.json`, one call tree of the forward:
 *
 *   node = {module_path: "LlamaForCausalLM.model.layers.0.self_attn.q_proj", inputs?: IO, outputs?: IO,
 *           children?: [node...]}                       (the root's module_path is the class name)
 *   IO   = {args?: [T...], kwargs?: {name: T}} for inputs; a T (or a list / dict of them) for outputs
 *   T    = {shape: "torch.Size([1, 7, 64])", dtype: "torch.float32", value?: [...] | "./x.safetensors",
 *           mean: "tensor(1.2345e-02)", std: "tensor(...)", min: "tensor(...)", max: "tensor(...)"}
 *
 * Only leaf modules keep `outputs`; every module keeps `inputs`. The statistics are torch reprs (4
 * significant decimals in sci mode, maybe `, device=...` / `, dtype=...`) over the whole tensor (all
 * tokens); `std` is torch's sample std (/(n-1)), converted to population. absmax and l2 are derived;
 * NaN/Inf/zero counts are not recorded: assumed 0 (noted; a NaN statistic marks the point non-finite).
 * By default the debugger prunes the intermediate decoder layers (first and last kept): the layers
 * present are imported.
 *
 * Llama module paths -> points: model.embed_tokens -> embd; model.layers.N.input_layernorm -> attn_norm;
 * self_attn.q_proj/k_proj/v_proj -> q/k/v; self_attn.o_proj -> attn (its input) and attn_out;
 * post_attention_layernorm -> ffn_inp (its input) and ffn_norm; mlp.gate_proj/up_proj -> ffn_gate/ffn_up;
 * mlp.down_proj -> ffn_act (its input) and ffn_out; model.layers.N -> l_out (its output where recorded,
 * else the input of model.layers.N+1 or of model.norm); model.norm -> result_norm; lm_head -> logits (all
 * positions, or the last one: from the shape). mlp.act_fn (silu(gate) alone) and rotary_emb: no point.
 * The prompt tokens: `input_ids` of the root's inputs when FULL_TENSORS.json kept their repr or their
 * safetensors file, else the importer's options (`--tokens`).
 *
 * Full tensors: with `use_repr=False` the debugger saves every tensor as `./<module>_outputs.safetensors`
 * (one tensor "data", beside the JSON) and `value` names that file. A float32 file is read as the point's
 * full tensor (both samples, compared element by element like any trace's); a missing or non-F32 file
 * falls back to the statistics, with a note. The same module paths serve Llama, Mistral and Qwen2
 * (Qwen3's q_norm/k_norm have no point of their own: their effect shows at q/k... not captured by the
 * debugger's leaf outputs, so q/k are the projections' outputs before the norm on every architecture).
 */
import { closeSync, openSync, readFileSync, readSync, statSync } from "node:fs";
import path from "node:path";

import { summarize } from "../bindings/kernels.js";
import { decodeSafetensors, type F32Tensor } from "../trace/safetensors.js";

import { DERIVED_POINTS, GLOBAL_POINTS_AFTER, GLOBAL_POINTS_BEFORE, LAYER_POINTS, TRACE_FORMAT, TRACE_FORMAT_VERSION, type PointKind, type Summary, type Trace, type TracePoint } from "../trace/types.js";
import { InputError } from "../util/errors.js";
import { fromSampleStats } from "./stats.js";
import type { Imported, Importer, ImportOptions } from "./types.js";

const MAX_BYTES = 512 << 20;

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);

interface Node {
  module_path: string;
  inputs?: unknown;
  outputs?: unknown;
  children?: Node[];
}

/** A 0-d tensor repr ("tensor(1.2345e-02)", "tensor(nan, device='cuda:0')") or a plain number. */
export function parseTorchScalar(v: unknown): number | null {
  if (typeof v === "number") return v;
  if (typeof v !== "string") return null;
  const m = /^\s*tensor\(\s*(-?(?:inf|nan|[0-9.]+(?:e[-+]?\d+)?))\s*[,)]/i.exec(v);
  if (!m) return null;
  const s = m[1].toLowerCase();
  return s === "nan" ? NaN : s === "inf" ? Infinity : s === "-inf" ? -Infinity : Number(s);
}

/** "torch.Size([1, 7, 64])" -> [1, 7, 64]. */
export function parseTorchShape(v: unknown): number[] | null {
  if (typeof v !== "string") return null;
  const m = /^\s*torch\.Size\(\[([0-9,\s]*)\]\)\s*$/.exec(v);
  if (!m) return null;
  return m[1].split(",").map((x) => x.trim()).filter(Boolean).map(Number);
}

/** The dtype and byte size of a safetensors file's single tensor, from its header alone. */
function safetensorsHead(file: string): { dtype: string; bytes: number } | null {
  let fd: number;
  try {
    fd = openSync(file, "r");
  } catch {
    return null;
  }
  try {
    const len = Buffer.alloc(8);
    if (readSync(fd, len, 0, 8, 0) !== 8) return null;
    const n = len.readBigUInt64LE(0);
    if (n > 1n << 20n) return null;
    const h = Buffer.alloc(Number(n));
    if (readSync(fd, h, 0, h.length, 8) !== h.length) return null;
    const header = JSON.parse(h.toString("utf8")) as Record<string, { dtype?: string }>;
    const names = Object.keys(header).filter((k) => k !== "__metadata__");
    return names.length === 1 && typeof header[names[0]]?.dtype === "string" ? { dtype: header[names[0]].dtype!, bytes: statSync(file).size } : null;
  } catch {
    return null;
  } finally {
    closeSync(fd);
  }
}

class Reader {
  readonly notes: string[] = [];
  /** Points whose full tensor was read from the debugger's safetensors file, and those whose file was unusable. */
  full = 0;
  readonly unread: string[] = [];
  readonly dir: string;
  constructor(readonly file: string) {
    this.dir = path.dirname(file);
  }
  fail(msg: string): never {
    throw new InputError(`${this.file}: transformers debugger JSON: ${msg}`);
  }

  /**
   * The full tensor the debugger saved with `use_repr=False` (`value: "./<module>_outputs.safetensors"`,
   * one tensor named "data", beside the JSON), or null where there is none or it is not float32 (then the
   * statistics are used, with a note). A file that is there but malformed is one error.
   */
  values(where: string, t: Obj, shape: number[]): Float32Array | null {
    if (typeof t.value !== "string" || !/\.safetensors$/.test(t.value)) return null;
    const f = path.resolve(this.dir, t.value);
    const head = safetensorsHead(f);
    if (!head) {
      this.unread.push(`${where}: ${t.value} (absent or unreadable)`);
      return null;
    }
    if (head.dtype !== "F32") {
      this.unread.push(`${where}: ${t.value} (${head.dtype}, not F32)`);
      return null;
    }
    const count = shape.reduce((x, y) => x * y, 1);
    if (head.bytes > MAX_BYTES || head.bytes < count * 4) this.fail(`${where}: ${t.value} is ${head.bytes} bytes for ${count} float32 values`);
    const { tensors } = decodeSafetensors(readFileSync(f), `${f}`);
    const x = [...tensors.values()][0];
    if (!x || x.data.length !== count || x.shape.reduce((a, b) => a * b, 1) !== count) this.fail(`${where}: ${t.value} holds shape [${x?.shape.join(", ")}], the JSON says [${shape.join(", ")}]`);
    this.full++;
    return x.data;
  }

  /** A serialized tensor: its shape (batch dimension dropped: batch 1 only) and its summary. */
  tensor(where: string, t: unknown): { shape: number[]; s: Summary; data: Float32Array | null } {
    if (!isObj(t)) this.fail(`${where} is not a serialized tensor`);
    const shape = parseTorchShape(t.shape);
    if (!shape || shape.length < 2) this.fail(`${where}.shape ${JSON.stringify(t.shape)} is not a torch.Size of a [batch, tokens, ...] tensor`);
    if (shape[0] !== 1) this.fail(`${where}: batch ${shape[0]}: only one sequence (batch 1) can be compared`);
    const count = shape.slice(1).reduce((x, y) => x * y, 1);
    const data = this.values(where, t, shape);
    if (data) return { shape: shape.slice(1), s: summarize(data), data };
    const num = (k: string) => {
      if (t[k] === undefined) this.fail(`${where}.${k} is missing (dtype ${JSON.stringify(t.dtype)}: only float tensors carry statistics)`);
      const v = parseTorchScalar(t[k]);
      if (v === null) this.fail(`${where}.${k} ${JSON.stringify(t[k])} is not a torch scalar repr`);
      return v;
    };
    const mean = num("mean"), sstd = num("std"), min = num("min"), max = num("max");
    const nonfinite = [mean, sstd, min, max].some((x) => !Number.isFinite(x));
    if (!nonfinite) {
      if (sstd < 0) this.fail(`${where}.std is negative`);
      if (min > max) this.fail(`${where}: min ${min} > max ${max}`);
      if (mean < min - 1e-3 * Math.abs(min) - 1e-30 || mean > max + 1e-3 * Math.abs(max) + 1e-30) this.fail(`${where}: mean ${mean} outside [min ${min}, max ${max}]`);
    }
    // torch's std is the sample one (/(n-1)); rosetta's the population one
    const s: Summary = nonfinite
      ? { count, nan: 1, inf: 0, zeros: 0, mean, std: NaN, min, max, absmax: Math.max(Math.abs(min), Math.abs(max)), l2: NaN }
      : fromSampleStats({ count, nan: 0, inf: 0, zeros: 0, mean, sampleStd: sstd, min, max });
    return { shape: shape.slice(1), s, data: null };
  }
}

/** The hidden-state argument of a module's inputs: args[0], else kwargs.hidden_states / input. */
function firstInput(io: unknown): unknown {
  if (!isObj(io)) return undefined;
  if (Array.isArray(io.args) && io.args.length > 0) return io.args[0];
  if (isObj(io.kwargs)) return io.kwargs.hidden_states ?? io.kwargs.input ?? io.kwargs.x;
  return undefined;
}

/** Token ids from the repr lines FULL_TENSORS.json keeps in `value` ("tensor([[ 1, 17, 42]])"). */
function idsFromRepr(v: unknown): number[] | null {
  if (!isObj(v) || !Array.isArray(v.value)) return null;
  const text = v.value.join(" ");
  if (text.includes("...")) return null; // torch summarized a long prompt
  const m = /tensor\(\[\[([\s\S]*?)\]\]/.exec(text);
  if (!m) return null;
  const ids = m[1].split(",").map((x) => x.trim()).filter(Boolean).map(Number);
  return ids.length && ids.every((x) => Number.isSafeInteger(x) && x >= 0) ? ids : null;
}

/** Per-layer module suffix -> [point from the output, point from the first input]. */
const LAYER_MODULES: Record<string, [PointKind | null, PointKind | null]> = {
  input_layernorm: ["attn_norm", null],
  "self_attn.q_proj": ["q", null],
  "self_attn.k_proj": ["k", null],
  "self_attn.v_proj": ["v", null],
  "self_attn.o_proj": ["attn_out", "attn"],
  post_attention_layernorm: ["ffn_norm", "ffn_inp"],
  "mlp.gate_proj": ["ffn_gate", null],
  "mlp.up_proj": ["ffn_up", null],
  "mlp.down_proj": ["ffn_out", "ffn_act"],
};

export function importTransformersDebug(file: string, text: string, options: ImportOptions = {}): Imported {
  const r: Reader = new Reader(file);
  let root: unknown;
  try {
    root = JSON.parse(text);
  } catch (e) {
    r.fail(`not JSON (${(e as Error).message})`);
  }
  if (!isObj(root) || typeof root.module_path !== "string") r.fail("the top level is not a debugger call-tree node (no module_path)");
  const cls = root.module_path.replace(/ \(top-level\)$/, "");
  const nodes: Node[] = [];
  const walk = (n: unknown, where: string) => {
    if (!isObj(n) || typeof n.module_path !== "string") r.fail(`${where} is not a call-tree node (no module_path)`);
    nodes.push(n as unknown as Node);
    if (n.children !== undefined) {
      if (!Array.isArray(n.children)) r.fail(`${n.module_path}.children is not an array`);
      n.children.forEach((c: unknown, i: number) => walk(c, `${n.module_path}.children[${i}]`));
    }
  };
  walk(root, "the root");
  const rel = (p: string) => (p.startsWith(cls + ".") ? p.slice(cls.length + 1) : p);
  const byPath = new Map<string, Node>();
  for (const n of nodes) {
    const k = rel(n.module_path);
    if (byPath.has(k)) r.fail(`${n.module_path} appears twice (one forward pass expected)`);
    byPath.set(k, n);
  }
  const found = new Map<string, { point: PointKind; layer: number | null; shape: number[]; s: Summary; data: Float32Array | null; module: string; io: "output" | "input" }>();
  const put = (point: PointKind, layer: number | null, module: string, io: "output" | "input", t: unknown) => {
    const key = layer === null ? point : `blk.${layer}.${point}`;
    if (found.has(key)) return;
    const { shape, s, data } = r.tensor(`${module} ${io === "output" ? "outputs" : "inputs.args[0]"}`, t);
    found.set(key, { point, layer, shape, s, data, module, io });
  };
  const out = (n: Node | undefined) => (n && n.outputs !== undefined && n.outputs !== null ? (Array.isArray(n.outputs) ? n.outputs[0] : n.outputs) : undefined);
  const layerNums = new Set<number>();
  let silu = false;
  for (const [k, n] of byPath) {
    const m = /^(?:model\.)?layers\.(\d+)(?:\.(.+))?$/.exec(k);
    if (!m) continue;
    const L = Number(m[1]);
    layerNums.add(L);
    if (m[2] === undefined) {
      const o = out(n);
      if (o !== undefined) put("l_out", L, n.module_path, "output", o);
      continue;
    }
    if (m[2] === "mlp.act_fn") silu = true;
    const map = LAYER_MODULES[m[2]];
    if (!map) continue;
    const o = out(n);
    if (map[0] && o !== undefined) put(map[0], L, n.module_path, "output", o);
    const i = firstInput(n.inputs);
    if (map[1] && i !== undefined) put(map[1], L, n.module_path, "input", i);
  }
  if (layerNums.size === 0) r.fail("no decoder layers (model.layers.N) in the call tree: not a llama-like model's trace");
  const layers = [...layerNums].sort((a, b) => a - b);
  // l_out of layer N: the input of layer N+1 (the residual stream entering it), or of the final norm
  for (const L of layers) {
    const next = byPath.get(`model.layers.${L + 1}`) ?? byPath.get(`layers.${L + 1}`);
    const src = next ?? (L === layers[layers.length - 1] ? (byPath.get("model.norm") ?? byPath.get("norm")) : undefined);
    const i = src && firstInput(src.inputs);
    if (src && i !== undefined) put("l_out", L, src.module_path, "input", i);
  }
  const emb = byPath.get("model.embed_tokens") ?? byPath.get("embed_tokens");
  if (out(emb) !== undefined) put("embd", null, emb!.module_path, "output", out(emb));
  const norm = byPath.get("model.norm") ?? byPath.get("norm");
  if (out(norm) !== undefined) put("result_norm", null, norm!.module_path, "output", out(norm));
  const head = byPath.get("lm_head");
  if (out(head) !== undefined) put("logits", null, head!.module_path, "output", out(head));

  // T from the hidden states; every per-token point [T, width]
  const hid = found.get("embd") ?? found.get(`blk.${layers[0]}.attn_norm`) ?? [...found.values()][0];
  if (!hid) r.fail("no module outputs with statistics (a SUMMARY of a model with no float tensors?)");
  const T = hid.shape[0];
  const lastOnlyLogits = found.get("logits")?.shape[0] === 1 && T > 1;
  for (const [key, f] of found) {
    if (f.shape.length !== 2) r.fail(`${key} (${f.module}): shape [1, ${f.shape.join(", ")}] is not [1, tokens, width]`);
    if (f.shape[0] !== T && !(key === "logits" && lastOnlyLogits)) r.fail(`${key} (${f.module}): ${f.shape[0]} token(s), the embedding ${T}`);
  }
  let tokens = options.tokens;
  const idsIo = isObj(root.inputs) && isObj(root.inputs.kwargs) ? root.inputs.kwargs.input_ids : undefined;
  const ids = idsFromSafetensors(r.dir, idsIo) ?? idsFromSafetensors(r.dir, firstInput(root.inputs)) ?? idsFromRepr(isObj(root.inputs) && isObj(root.inputs.kwargs) ? root.inputs.kwargs.input_ids : undefined) ?? idsFromRepr(firstInput(root.inputs));
  if (!tokens && ids) tokens = ids;
  if (!tokens) r.fail(`the prompt tokens are not recorded (a SUMMARY keeps no values): give --tokens (${T} ids)`);
  if (tokens.length !== T) r.fail(`${tokens.length} token id(s) given, the activations cover ${T} token(s)`);

  const order: string[] = [...GLOBAL_POINTS_BEFORE, ...LAYER_POINTS, ...DERIVED_POINTS, ...GLOBAL_POINTS_AFTER];
  const rows = [...found.values()].sort((a, b) => (a.layer ?? (a.point === "embd" ? -1 : 1e9)) - (b.layer ?? (b.point === "embd" ? -1 : 1e9)) || order.indexOf(a.point) - order.indexOf(b.point));
  const tensors = new Map<string, F32Tensor>();
  const points: TracePoint[] = rows.map((f) => {
    const key = f.layer === null ? f.point : `blk.${f.layer}.${f.point}`;
    const lastOnly = key === "logits" && lastOnlyLogits;
    const W = f.shape[1];
    // a full tensor gives both samples and is compared element by element (docs/trace-format.md)
    if (f.data && !lastOnly) {
      tensors.set(key, { shape: [T, W], data: f.data });
      return {
        key, point: f.point, layer: f.layer, step: 0, shape: [T, W], firstPos: 0, tokens: T,
        all: f.s, last: T === 1 ? f.s : summarize(f.data, { offset: (T - 1) * W, count: W }), tensor: key,
        source: { importer: "transformers-debug", module: f.module, io: f.io },
      };
    }
    return {
      key, point: f.point, layer: f.layer, step: 0, shape: [T, W], firstPos: 0, tokens: T,
      all: lastOnly ? null : f.s, last: lastOnly || T === 1 ? f.s : null,
      source: { importer: "transformers-debug", module: f.module, io: f.io },
    };
  });
  const missing = Array.from({ length: layers[layers.length - 1] + 1 }, (_, i) => i).filter((i) => !layerNums.has(i));
  if (missing.length) r.notes.push(`layers ${missing.join(", ")} not in the tree (the debugger prunes intermediate layers unless do_prune_layers=False)`);
  if (silu) r.notes.push("mlp.act_fn (silu(gate) alone) has no rosetta capture point: not compared");
  const summariesOnly = points.length - tensors.size;
  if (tensors.size) r.notes.push(`full tensors of ${tensors.size} point(s) read from the debugger's safetensors files (use_repr=False): verified like any trace's`);
  if (r.unread.length) r.notes.push(`${r.unread.length} tensor file(s) not read, their statistics used instead: ${r.unread.slice(0, 3).join("; ")}${r.unread.length > 3 ? "; ..." : ""}`);
  if (summariesOnly)
    r.notes.push(`${tensors.size ? `${summariesOnly} point(s) ` : ""}summaries only (mean, std, min, max over all ${T} token(s)${lastOnlyLogits ? "; logits of the last position" : ""}; torch's sample std converted to population; absmax and l2 derived): NaN/Inf/zero counts are not recorded and assumed 0`);
  const get = (p: string) => found.get(p)?.shape[1];
  const L0 = layers[0];
  // transformers rotates every llama-family model with rotate_half: the NEOX order within heads (a GGUF llama
  // stores Q/K rows permuted for the NORM order; the comparison then matches q/k modulo that permutation)
  const config: Record<string, unknown> = { nLayer: layers[layers.length - 1] + 1, ropeLayout: "neox" };
  if (archOf(cls)) config.arch = archOf(cls);
  if (get("embd") !== undefined) config.nEmbd = get("embd");
  if (get(`blk.${L0}.ffn_gate`) !== undefined) config.nFf = get(`blk.${L0}.ffn_gate`);
  if (get("logits") !== undefined) config.nVocab = get("logits");
  const trace: Trace = {
    format: TRACE_FORMAT,
    version: TRACE_FORMAT_VERSION,
    engine: { name: "transformers", settings: { imported: true, debugger: "model_addition_debugger_context" } },
    model: { path: file, arch: archOf(cls), config },
    input: { tokens, generated: [] },
    points,
    imported: { format: "transformers-debug-json", from: file, notes: r.notes },
  };
  return { trace, tensors };
}

/** The architecture from the model class (LlamaForCausalLM, MistralForCausalLM, Qwen2ForCausalLM, ...). */
function archOf(cls: string): string | undefined {
  const m = /^(Llama|Mistral|Qwen2|Qwen3)For/i.exec(cls);
  return m ? m[1].toLowerCase() : undefined;
}

/** Token ids from the int64 safetensors file FULL_TENSORS.json names for input_ids (use_repr=False). */
function idsFromSafetensors(dir: string, v: unknown): number[] | null {
  if (!isObj(v) || typeof v.value !== "string" || !/\.safetensors$/.test(v.value)) return null;
  let buf: Buffer;
  try {
    buf = readFileSync(path.resolve(dir, v.value));
  } catch {
    return null;
  }
  if (buf.length < 8 || buf.length > 1 << 24) return null;
  const n = Number(buf.readBigUInt64LE(0));
  if (n > buf.length - 8) return null;
  let header: Record<string, { dtype?: string; shape?: number[]; data_offsets?: number[] }>;
  try {
    header = JSON.parse(buf.subarray(8, 8 + n).toString("utf8"));
  } catch {
    return null;
  }
  const e = Object.entries(header).find(([k]) => k !== "__metadata__")?.[1];
  if (!e || e.dtype !== "I64" || !Array.isArray(e.data_offsets) || !Array.isArray(e.shape)) return null;
  const [b, end] = e.data_offsets;
  const count = e.shape.reduce((x, y) => x * y, 1);
  if (!(end - b === count * 8 && 8 + n + end <= buf.length)) return null;
  const ids: number[] = [];
  for (let i = 0; i < count; i++) ids.push(Number(buf.readBigInt64LE(8 + n + b + 8 * i)));
  return ids.every((x) => Number.isSafeInteger(x) && x >= 0) ? ids : null;
}

export const transformersDebugImporter: Importer = {
  format: "transformers-debug-json",
  describe: "transformers' model_addition_debugger_context call tree (<Class>_debug_tree_SUMMARY.json / _FULL_TENSORS.json; full tensors where saved with use_repr=False)",
  sniff: (head) => /^\s*\{/.test(head) && /"module_path"\s*:/.test(head) && !/"rosetta-trace"/.test(head),
  read: (file, options) => {
    const size = statSync(file).size;
    if (size > MAX_BYTES) throw new InputError(`${file}: ${size} bytes is larger than a debugger JSON rosetta reads (${MAX_BYTES})`);
    return importTransformersDebug(file, readFileSync(file, "utf8"), options);
  },
};
