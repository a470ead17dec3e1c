/**
 * Weight-level diff of two loaded models (`rosetta diff-weights A B`, and the evidence the comparison
 * uses): tensors matched by role; missing/extra; dims (row-major, so GGUF's innermost-first order never
 * looks transposed); dtypes; byte identity; dequantized values (SQNR against the floor for the two
 * types); transposition by shape and, for square weights, by value; Q/K rows permuted within heads;
 * Q/K and gate/up swapped; a shifted embedding table; metadata differences.
 */
import type { LoadedModel, TensorView } from "../formats/model.js";
import { diffMetrics, mappingBytes, openMapping } from "../native/kernels.js";
import { diffMetadata, metadataFindings } from "./config-diff.js";
import { describe } from "./format.js";
import type { DiffFn } from "./metrics.js";
import { finding, type Finding, type TensorDiff, type WeightDiff } from "./result.js";
import { normType, weightSqnrFloor } from "./tolerances.js";
import type { DiagnosisId } from "./vocabulary.js";
import { checkValues, type Src } from "./weight-values.js";

export interface WeightDiffOptions {
  /** Tensors larger than this are compared on their first rows only (default 8M elements). */
  maxElements?: number;
  diff?: DiffFn;
  /** Called per tensor (progress on long runs). */
  onTensor?: (i: number, n: number, key: string) => void;
}

function bytesOf(s: Src, t: TensorView): Uint8Array {
  return mappingBytes(s.map, t.offset, t.byteLength);
}

function base(key: string, ta: TensorView | undefined, tb: TensorView | undefined): TensorDiff {
  return {
    key,
    layer: (ta ?? tb)?.layer ?? null,
    nameA: ta?.name ?? null,
    nameB: tb?.name ?? null,
    dimsA: ta?.dims ?? null,
    dimsB: tb?.dims ?? null,
    typeA: ta ? normType(ta.typeName) : null,
    typeB: tb ? normType(tb.typeName) : null,
    status: "not-compared",
    sqnrDb: null,
    floorDb: ta && tb ? weightSqnrFloor(ta.typeName, tb.typeName) : null,
    cosine: null,
  };
}

function tiedOutput(key: string, m: LoadedModel): boolean {
  return key === "output" && m.config.tiedEmbeddings;
}

function compareOne(key: string, a: Src, b: Src, opts: Required<Pick<WeightDiffOptions, "maxElements" | "diff">>): TensorDiff {
  const ta = a.model.byRole.get(key);
  const tb = b.model.byRole.get(key);
  const d = base(key, ta, tb);
  if (!ta || !tb) {
    if (!ta && tb && tiedOutput(key, a.model)) return { ...d, status: "not-compared", note: "A ties the output to token_embd" };
    if (ta && !tb && tiedOutput(key, b.model)) return { ...d, status: "not-compared", note: "B ties the output to token_embd" };
    return { ...d, status: ta ? "missing-in-b" : "missing-in-a" };
  }
  if (ta.type === tb.type && ta.byteLength === tb.byteLength && ta.dims.join() === tb.dims.join()) {
    const ba = bytesOf(a, ta);
    const bb = bytesOf(b, tb);
    if (Buffer.compare(ba, bb) === 0) return { ...d, status: "identical", sqnrDb: Infinity, cosine: 1 };
  }
  return checkValues(d, ta, tb, a, b, opts);
}

/** Groups per-tensor results into findings: one per (diagnosis, role), listing the layers. */
function tensorFindings(tensors: TensorDiff[]): Finding[] {
  const groups = new Map<string, { id: DiagnosisId; items: TensorDiff[]; fatal: boolean }>();
  const add = (id: DiagnosisId, t: TensorDiff, fatal = true, tag = "") => {
    const role = t.key.replace(/^blk\.\d+\./, "");
    const g = groups.get(`${id}|${role}|${tag}`) ?? { id, items: [], fatal };
    g.items.push(t);
    groups.set(`${id}|${role}|${tag}`, g);
  };
  for (const t of tensors) {
    if (t.status === "missing-in-a" || t.status === "missing-in-b") add("tensor-missing", t);
    else if (t.status === "transposed") add("layout-transposed", t);
    else if (t.status === "permuted") add("qk-rope-permutation", t);
    else if (t.status === "swapped") add("tensors-swapped", t);
    else if (t.status === "shifted" || t.status === "shape-mismatch") add("weights-differ", t, true, t.status);
    else if (t.status === "differs") add(t.note?.startsWith("dequant") ? "dequant-mismatch" : "weights-differ", t);
    if (t.typeA && t.typeB && t.typeA !== t.typeB && t.status !== "missing-in-a" && t.status !== "missing-in-b") add("dtype-mismatch", t, false);
  }
  const out: Finding[] = [];
  for (const g of groups.values()) {
    const first = g.items[0];
    const layers = g.items.map((t) => t.layer).filter((l): l is number => l !== null);
    const where = layers.length ? `${layers.length} layer(s): ${layers.slice(0, 12).join(", ")}${layers.length > 12 ? ", ..." : ""}` : "global";
    const ev = [`${first.key}: ${describe(first)}`];
    if (g.items.length > 1) ev.push(`same for ${g.items.length} tensor(s) of this role (${where})`);
    out.push(finding(g.id, first.key, first.layer, ev, g.fatal));
  }
  return out;
}

export function diffWeights(a: LoadedModel, b: LoadedModel, opts: WeightDiffOptions = {}): WeightDiff {
  const sa: Src = { model: a, map: openMapping(a.path) };
  const sb: Src = { model: b, map: openMapping(b.path) };
  try {
    const o = { maxElements: opts.maxElements ?? 8 << 20, diff: opts.diff ?? diffMetrics };
    const keys = [...new Set([...a.byRole.keys(), ...b.byRole.keys()])];
    const tensors = keys.map((k, i) => {
      opts.onTensor?.(i, keys.length, k);
      return compareOne(k, sa, sb, o);
    });
    const metadata = diffMetadata(a.config, b.config);
    return { a: a.path, b: b.path, tensors, metadata, findings: [...metadataFindings(metadata, tensors, b.config.arch), ...tensorFindings(tensors)] };
  } finally {
    sa.map.close();
    sb.map.close();
  }
}
