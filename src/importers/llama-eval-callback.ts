/**
 * Parser for the stdout of llama.cpp's `llama-eval-callback` example (common/debug.cpp,
 * `common_debug_cb_eval` + `common_debug_print_tensor`). Pure: text in, nodes out; no I/O.
 *
 * Format, per graph node (printf formats from common/debug.cpp):
 *
 *     common_debug_cb_eval: %24s = (%s) %10s(%s{ne}, %s}) = {ne}      name, type, op, src0{ne}, src1{ne} or ""
 *         [                                   one block per i3 (never elided)
 *             [                               per i2; "        ..., " replaces the middle when ne2 > 6
 *                 [ %12.4f, ... ,   ..., %12.4f  ],   per i1 ("            ..., " when ne1 > 6); i0 likewise inline
 *             ],
 *         ]
 *         sum = %f                            sum of ALL elements (float), repeated after each i3 block
 *
 * Quantized tensors print the header only. The program can lose its output tail at exit: an incomplete
 * trailing node is dropped and reported in `warnings`; any other malformed line throws one Error naming
 * the file and line.
 */

export interface EvalCallbackValues {
  /** Flat row-major (outermost first) element index of each printed value; ggml order i0 fastest. */
  index: number[];
  values: number[];
}

export interface EvalCallbackNode {
  name: string;
  /** How many nodes of this name came before this one (names repeat: Qcur-0 is printed 3 times). */
  occurrence: number;
  /** 1-based line of the header. */
  line: number;
  type: string;
  op: string;
  /** Source names as printed (src0, then src1 when present). */
  srcs: string[];
  /** Source dims as printed, ggml order. */
  srcNe: number[][];
  /** Printed dims, ggml order (innermost first), 4 entries. */
  ne: number[];
  /** Row-major shape, outermost first, ggml's trailing 1s dropped (at least one dim). */
  shape: number[];
  /** Printed sum of all elements; undefined for quantized tensors (header only). */
  sum?: number;
  sumSq?: number;
  printed: EvalCallbackValues;
  /** Half a unit of the last printed digit of the values (4 decimals -> 5e-5); 0 when nothing printed. */
  tolerance: number;
}

export interface EvalCallbackParse {
  nodes: EvalCallbackNode[];
  warnings: string[];
}

/** Elements printed at each end of a dimension (the `n` passed to common_debug_print_tensor). */
const EDGE = 3;
const PREFIX = "common_debug_cb_eval:";
const NE_RE = "(-?\\d+), (-?\\d+), (-?\\d+), (-?\\d+)";
const HEADER_RE = new RegExp(`^${PREFIX} +(\\S.*?) = \\(([A-Za-z0-9_]+)\\) +([A-Z0-9_]+)\\((.*)\\) = \\{${NE_RE}\\}$`);
const SRCS_RE = new RegExp(`^(.*?)\\{${NE_RE}\\}, (?:(.*)\\{${NE_RE}\\})?\\}$`);
/** printf %f: always 6 decimals, so a sum line cut short never reads as complete. */
const NUM = "(-?(?:\\d+\\.\\d{6}|nan|inf))";
const SUM_RE = new RegExp(`^sum = ${NUM}(?:,? +sum_?sq = ${NUM})?$`, "i");
const VALUE_RE = /^-?(?:\d+\.(\d+)|nan|inf)$/i;
const QUANTIZED = /^(q\d|iq\d|tq\d|mxfp|nvfp)/i;

/** Error with the file and 1-based line of the offending text. */
export class EvalCallbackParseError extends Error {
  constructor(
    readonly file: string,
    readonly line: number,
    detail: string,
  ) {
    super(`${file}:${line}: llama-eval-callback output: ${detail}`);
    this.name = "EvalCallbackParseError";
  }
}

/** Thrown internally when the input ends inside a node. */
class Truncated extends Error {}

function parseNum(s: string): number {
  const t = s.toLowerCase();
  if (t === "nan" || t === "-nan") return NaN;
  if (t === "inf") return Infinity;
  if (t === "-inf") return -Infinity;
  return Number(s);
}

/** Printed indices along a dimension of size n: all, or the first and last EDGE with an elision. */
function printedAlong(n: number): { idx: number[]; elideAt: number } {
  if (n > 2 * EDGE) {
    const idx = [];
    for (let i = 0; i < EDGE; i++) idx.push(i);
    for (let i = n - EDGE; i < n; i++) idx.push(i);
    return { idx, elideAt: EDGE };
  }
  return { idx: Array.from({ length: n }, (_, i) => i), elideAt: -1 };
}

function shapeOf(ne: number[]): number[] {
  let k = ne.length;
  while (k > 1 && ne[k - 1] === 1) k--;
  return ne.slice(0, k).reverse();
}

/**
 * Parse a whole dump. Returns the nodes in print order; an incomplete trailing node (lost tail) is
 * dropped with a warning. Throws EvalCallbackParseError on any other malformed line.
 */
export function parseEvalCallbackDump(text: string, file: string): EvalCallbackParse {
  const endsClean = text.length === 0 || text.endsWith("\n");
  const lines = text.split("\n");
  if (lines.length > 0 && lines[lines.length - 1] === "") lines.pop();
  for (let i = 0; i < lines.length; i++) if (lines[i].endsWith("\r")) lines[i] = lines[i].slice(0, -1);
  const nodes: EvalCallbackNode[] = [];
  const warnings: string[] = [];
  const seen = new Map<string, number>();
  let pos = 0; // index into lines

  const fail = (i: number, detail: string): never => {
    // A bad final line that the program never finished writing is a lost tail, not a malformed file.
    if (i >= lines.length - 1 && !endsClean) throw new Truncated();
    throw new EvalCallbackParseError(file, i + 1, detail);
  };
  const next = (): { text: string; i: number } => {
    if (pos >= lines.length) throw new Truncated();
    const i = pos++;
    return { text: lines[i].trim(), i };
  };
  const expect = (want: string, what: string): void => {
    const l = next();
    if (l.text !== want) fail(l.i, `expected ${what} "${want}", got "${clip(lines[l.i])}"`);
  };

  while (pos < lines.length) {
    const start = pos;
    if (lines[pos].trim() === "") {
      pos++;
      continue;
    }
    try {
      const node = parseNode();
      nodes.push(node);
    } catch (e) {
      if (!(e instanceof Truncated)) throw e;
      const name = HEADER_RE.exec(lines[start]);
      warnings.push(
        `${file}:${start + 1}: the output ends inside node ${name ? `"${name[1]}"` : "(header cut)"}: dropped (lost tail)`,
      );
      break;
    }
  }
  return { nodes, warnings };

  function parseNode(): EvalCallbackNode {
    const h = next();
    const m = HEADER_RE.exec(lines[h.i].replace(/\s+$/, ""));
    if (!m) fail(h.i, `expected a node header "${PREFIX} NAME = (TYPE) OP(SRCS) = {ne}", got "${clip(lines[h.i])}"`);
    const [, name, type, op, srcText] = m!;
    const ne = m!.slice(5, 9).map(Number);
    if (ne.some((d) => !Number.isSafeInteger(d) || d < 1)) fail(h.i, `bad dims {${ne.join(", ")}}`);
    const s = SRCS_RE.exec(srcText);
    if (!s) fail(h.i, `cannot read the sources "${clip(srcText)}"`);
    const srcs = [s![1]];
    const srcNe = [s!.slice(2, 6).map(Number)];
    if (s![6] !== undefined) {
      srcs.push(s![6]);
      srcNe.push(s!.slice(7, 11).map(Number));
    }
    const occurrence = seen.get(name) ?? 0;
    seen.set(name, occurrence + 1);
    const node: EvalCallbackNode = {
      name,
      occurrence,
      line: h.i + 1,
      type,
      op,
      srcs,
      srcNe,
      ne,
      shape: shapeOf(ne),
      printed: { index: [], values: [] },
      tolerance: 0,
    };
    if (QUANTIZED.test(type)) return node; // header only
    let decimals = Infinity;
    const [n0, n1, n2, n3] = ne;
    const a0 = printedAlong(n0), a1 = printedAlong(n1), a2 = printedAlong(n2);
    let sumText: string | undefined;
    for (let i3 = 0; i3 < n3; i3++) {
      expect("[", "the start of block i3");
      for (let k2 = 0; k2 < a2.idx.length; k2++) {
        if (k2 === a2.elideAt) expect("...,", "the i2 elision");
        expect("[", "the start of block i2");
        for (let k1 = 0; k1 < a1.idx.length; k1++) {
          if (k1 === a1.elideAt) expect("...,", "the i1 elision");
          const row = next();
          const r = /^\[(.*)\],$/.exec(row.text);
          if (!r) fail(row.i, `expected a row of values "[ v, v, ... ],", got "${clip(lines[row.i])}"`);
          const items = r![1].split(",").map((x) => x.trim());
          const want = a0.idx.length + (a0.elideAt >= 0 ? 1 : 0);
          if (items.length !== want)
            fail(row.i, `expected ${want} items in a row of ne0=${n0}, got ${items.length}`);
          let k0 = 0;
          for (let j = 0; j < items.length; j++) {
            if (j === a0.elideAt) {
              if (items[j] !== "...") fail(row.i, `expected "..." at item ${j + 1}, got "${clip(items[j])}"`);
              continue;
            }
            const v = VALUE_RE.exec(items[j]);
            if (!v) fail(row.i, `not a number: "${clip(items[j])}"`);
            if (v![1] !== undefined) decimals = Math.min(decimals, v![1].length);
            const i0 = a0.idx[k0++];
            const i1 = a1.idx[k1], i2 = a2.idx[k2];
            node.printed.index.push(((i3 * n2 + i2) * n1 + i1) * n0 + i0);
            node.printed.values.push(parseNum(items[j]));
          }
        }
        expect("],", "the end of block i2");
      }
      expect("]", "the end of block i3");
      const sl = next();
      const sm = SUM_RE.exec(sl.text);
      if (!sm) fail(sl.i, `expected "sum = NUMBER", got "${clip(lines[sl.i])}"`);
      if (sumText !== undefined && sumText !== sl.text) fail(sl.i, `the sum differs between i3 blocks`);
      sumText = sl.text;
      node.sum = parseNum(sm![1]);
      if (sm![2] !== undefined) node.sumSq = parseNum(sm![2]);
    }
    node.tolerance = Number.isFinite(decimals) ? Number(`5e-${decimals + 1}`) : 0;
    return node;
  }
}

/**
 * Parse a dump into its nodes (see parseEvalCallbackDump). A dropped incomplete trailing node is reported
 * by pushing a line onto `warnings` when given.
 */
export function parseEvalCallback(text: string, file: string, warnings?: string[]): EvalCallbackNode[] {
  const r = parseEvalCallbackDump(text, file);
  warnings?.push(...r.warnings);
  return r.nodes;
}

function clip(s: string): string {
  return s.length > 80 ? `${s.slice(0, 77)}...` : s;
}

/**
 * The input token ids from the program's log (stderr): "number of input tokens = N" followed by N lines
 * "  ID" (each possibly behind a log timestamp prefix). Null when absent or incomplete.
 */
export function parseEvalCallbackTokens(stderrText: string): number[] | null {
  const lines = stderrText.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const m = /number of input tokens = (\d+)\s*$/.exec(lines[i]);
    if (!m) continue;
    const n = Number(m[1]);
    const ids: number[] = [];
    for (let j = i + 1; j < lines.length && ids.length < n; j++) {
      const t = /^(?:\d+(?:\.\d+)+ [A-Z] )?\s+(-?\d+)\s*$/.exec(lines[j]);
      if (!t) return null;
      ids.push(Number(t[1]));
    }
    return ids.length === n && n > 0 ? ids : null;
  }
  return null;
}

// ---------------------------------------------------------------------------------------------------
// Node name -> capture point: the rules of native/llama/capture.cc (docs/capture-points.md), as data.

interface NameRule {
  /** Base name (the part before "-il"). */
  base: string;
  /** ggml_op_desc values accepted. */
  ops: readonly string[];
  point: string;
  /** true: needs an "-il" suffix; false: must have none (the point has no layer). */
  layered: boolean;
  /** Only the first node of this name (and op, when "nameOp") is the point. */
  first?: "name" | "nameOp";
}

const GLU = ["SWIGLU", "GEGLU", "REGLU", "GLU"] as const;

/** First match wins, in this order (as in capture.cc). */
export const EVAL_CALLBACK_RULES: readonly NameRule[] = [
  { base: "embd", ops: ["GET_ROWS"], point: "embd", layered: false },
  { base: "attn_norm", ops: ["MUL"], point: "attn_norm", layered: true },
  { base: "Qcur", ops: ["RESHAPE"], point: "q", layered: true, first: "nameOp" },
  { base: "Kcur", ops: ["RESHAPE"], point: "k", layered: true, first: "nameOp" },
  { base: "Vcur", ops: ["RESHAPE"], point: "v", layered: true, first: "nameOp" },
  { base: "Qcur", ops: ["ROPE"], point: "q_rope", layered: true },
  { base: "Kcur", ops: ["ROPE"], point: "k_rope", layered: true },
  { base: "kq_soft_max", ops: ["SOFT_MAX"], point: "kq_softmax", layered: true },
  { base: "kqv_out", ops: [], point: "attn", layered: true, first: "nameOp" }, // any op: CONT, or RESHAPE after flash attention
  { base: "ffn_inp", ops: ["ADD"], point: "ffn_inp", layered: true },
  { base: "ffn_norm", ops: ["MUL"], point: "ffn_norm", layered: true },
  { base: "ffn_gate", ops: ["MUL_MAT"], point: "ffn_gate", layered: true },
  { base: "ffn_up", ops: ["MUL_MAT"], point: "ffn_up", layered: true },
  { base: "ffn_swiglu", ops: GLU, point: "ffn_act", layered: true },
  { base: "l_out", ops: ["ADD"], point: "l_out", layered: true },
  { base: "result_norm", ops: ["MUL"], point: "result_norm", layered: false },
  { base: "result_output", ops: ["MUL_MAT"], point: "logits", layered: false },
  // capture.cc finds these two by weight (src[0]); llama names them, which is all a name-only caller has.
  { base: "attn_out", ops: ["MUL_MAT"], point: "attn_out", layered: true },
  { base: "ffn_out", ops: ["MUL_MAT"], point: "ffn_out", layered: true },
];

/** MUL_MAT weights that identify a point whatever the node's name (qwen2/qwen3 leave o_proj unnamed). */
const WEIGHT_RULES: readonly { suffix: string; point: string }[] = [
  { suffix: "attn_output.weight", point: "attn_out" },
  { suffix: "ffn_down.weight", point: "ffn_out" },
];

/** "Qcur-3" -> ["Qcur", 3]; "embd" -> ["embd", null]; "Kcur-0 (view)" -> whole name, null. */
function splitName(name: string): [string, number | null] {
  const m = /^(.*)-(\d+)$/.exec(name);
  return m ? [m[1], Number(m[2])] : [name, null];
}

function ruleFor(name: string, op: string, nLayer?: number, src0?: string): { rule?: NameRule; point: string; layer: number | null } | null {
  const [base, il] = splitName(name);
  for (const rule of EVAL_CALLBACK_RULES) {
    if (rule.base !== base || (rule.ops.length > 0 && !rule.ops.includes(op))) continue;
    if (rule.layered !== (il !== null)) continue;
    if (il !== null && nLayer !== undefined && il >= nLayer) return null;
    return { rule, point: rule.point, layer: il };
  }
  if (op === "MUL_MAT" && src0 !== undefined) {
    for (const w of WEIGHT_RULES) {
      const m = /^blk\.(\d+)\.(.+)$/.exec(src0);
      if (!m || m[2] !== w.suffix) continue;
      const layer = Number(m[1]);
      if (nLayer !== undefined && layer >= nLayer) return null;
      return { point: w.point, layer };
    }
  }
  return null;
}

/**
 * The capture point of one node by name and op (and, optionally, its src0 weight name, as the live
 * bridge uses for attn_out/ffn_out). Null when the node is not a point. Name-only: the "first
 * occurrence" rules (q/k/v = first RESHAPE, attn = first kqv_out) need the node sequence, see
 * mapEvalCallbackNodes. Layers >= nLayer (when given) are rejected.
 */
export function mapEvalCallbackNode(
  name: string,
  op: string,
  nLayer?: number,
  src0?: string,
): { point: string; layer: number | null } | null {
  const r = ruleFor(name, op, nLayer, src0);
  return r ? { point: r.point, layer: r.layer } : null;
}

export interface MappedEvalCallbackNode {
  node: EvalCallbackNode;
  point: string;
  layer: number | null;
  /** "blk.N.point" or "point". */
  key: string;
}

/**
 * Map a node sequence to capture points, applying the occurrence rules (only the first RESHAPE of
 * Qcur-il etc.) and src0 weights. A new `embd` GET_ROWS restarts the occurrence counts (llama.cpp runs
 * one graph per ubatch, and each is printed in full), so each graph's points are returned in order.
 */
export function mapEvalCallbackNodes(nodes: readonly EvalCallbackNode[], nLayer?: number): MappedEvalCallbackNode[] {
  const out: MappedEvalCallbackNode[] = [];
  let counts = new Map<string, number>();
  for (const node of nodes) {
    if (node.name === "embd" && node.op === "GET_ROWS") counts = new Map(); // a new graph
    const key = `${node.name}\x1f${node.op}`;
    const occOp = counts.get(key) ?? 0;
    counts.set(key, occOp + 1);
    const occName = counts.get(node.name) ?? 0;
    counts.set(node.name, occName + 1);
    const r = ruleFor(node.name, node.op, nLayer, node.op === "MUL_MAT" ? node.srcs[0] : undefined);
    if (!r) continue;
    if (r.rule?.first === "nameOp" && occOp > 0) continue;
    if (r.rule?.first === "name" && occName > 0) continue;
    out.push({ node, point: r.point, layer: r.layer, key: r.layer === null ? r.point : `blk.${r.layer}.${r.point}` });
  }
  return out;
}
