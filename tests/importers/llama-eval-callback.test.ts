/**
 * The llama-eval-callback importer (src/importers/llama-eval-callback.ts): a re-implementation of
 * common_debug_print_tensor renders synthetic tensors (value = flat index, so every printed value's
 * computed index is checked exactly), the two real dumps under ../shared/fixtures/llama-eval-callback are
 * parsed and mapped to capture points (compared with rosetta's trace of the same 5-token prompt), and a
 * seeded fuzz cuts, swaps and corrupts lines.
 */
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";

import { describe, expect, it } from "vitest";

import {
  EvalCallbackParseError,
  mapEvalCallbackNode,
  mapEvalCallbackNodes,
  parseEvalCallback,
  parseEvalCallbackDump,
  parseEvalCallbackTokens,
  type EvalCallbackNode,
} from "../../src/importers/llama-eval-callback.js";
import { randInt, rng } from "../helpers/rng.js";
import { SHARED_DIR } from "../helpers/shared.js";

const DUMPS = path.join(SHARED_DIR, "fixtures/llama-eval-callback");
const HAVE_DUMPS = existsSync(path.join(DUMPS, "stories260K.txt"));
if (!HAVE_DUMPS) process.stderr.write(`[tests] ${DUMPS} is absent: llama-eval-callback dump tests are skipped\n`);

// ---- a port of common/debug.cpp's printing ------------------------------------------------------

const I = "    ";
function c(x: number): string {
  const t = Number.isNaN(x) ? "nan" : x === Infinity ? "inf" : x === -Infinity ? "-inf" : x.toFixed(4);
  return t.padStart(12);
}
function renderNode(name: string, type: string, op: string, srcs: [string, number[]][], ne: number[], val: (flat: number) => number): string {
  const n = 3;
  const neStr = (d: number[]) => d.join(", ");
  const src1 = srcs[1] ? `${srcs[1][0]}{${neStr(srcs[1][1])}}` : "";
  let s = `common_debug_cb_eval: ${name.padStart(24)} = (${type}) ${op.padStart(10)}(${srcs[0][0]}{${neStr(srcs[0][1])}}, ${src1}}) = {${neStr(ne)}}\n`;
  let sum = 0;
  const total = ne[0] * ne[1] * ne[2] * ne[3];
  for (let k = 0; k < total; k++) sum = Math.fround(sum + val(k));
  for (let i3 = 0; i3 < ne[3]; i3++) {
    s += `${I}[\n`;
    for (let i2 = 0; i2 < ne[2]; i2++) {
      if (i2 === n && ne[2] > 2 * n) (s += `${I}${I}..., \n`), (i2 = ne[2] - n);
      s += `${I}${I}[\n`;
      for (let i1 = 0; i1 < ne[1]; i1++) {
        if (i1 === n && ne[1] > 2 * n) (s += `${I}${I}${I}..., \n`), (i1 = ne[1] - n);
        s += `${I}${I}${I}[`;
        for (let i0 = 0; i0 < ne[0]; i0++) {
          if (i0 === n && ne[0] > 2 * n) (s += "   ..., "), (i0 = ne[0] - n);
          s += c(val(((i3 * ne[2] + i2) * ne[1] + i1) * ne[0] + i0));
          if (i0 < ne[0] - 1) s += ", ";
        }
        s += "  ],\n";
      }
      s += `${I}${I}],\n`;
    }
    s += `${I}]\n${I}sum = ${Number.isNaN(sum) ? "nan" : sum.toFixed(6)}\n`;
  }
  return s;
}

/** The printed flat indices along each dim, by the C++ loop, for cross-checking the parser's index. */
function expectedIndices(ne: number[]): number[] {
  const along = (d: number) => (d > 6 ? [0, 1, 2, d - 3, d - 2, d - 1] : Array.from({ length: d }, (_, i) => i));
  const out: number[] = [];
  for (let i3 = 0; i3 < ne[3]; i3++)
    for (const i2 of along(ne[2]))
      for (const i1 of along(ne[1])) for (const i0 of along(ne[0])) out.push(((i3 * ne[2] + i2) * ne[1] + i1) * ne[0] + i0);
  return out;
}

const SYNTH_SHAPES = [
  [1, 1, 1, 1],
  [5, 1, 1, 1],
  [6, 1, 1, 1],
  [7, 1, 1, 1],
  [64, 5, 1, 1],
  [8, 8, 5, 1],
  [8, 5, 8, 1],
  [8, 256, 4, 1],
  [7, 7, 7, 2],
  [3, 9, 2, 3],
];

function synthDump(): { text: string; shapes: number[][] } {
  let text = "";
  for (const [k, ne] of SYNTH_SHAPES.entries()) text += renderNode(`t-${k}`, "f32", "ADD", [[`a-${k}`, ne], [`b`, ne]], ne, (f) => f);
  return { text: text + "\n", shapes: SYNTH_SHAPES };
}

describe("parseEvalCallback: synthetic dumps rendered like common_debug_print_tensor", () => {
  it("every printed value sits at its exact flat row-major index (value = index)", () => {
    const { text, shapes } = synthDump();
    const r = parseEvalCallbackDump(text, "synth.txt");
    expect(r.warnings).toEqual([]);
    expect(r.nodes.length).toBe(shapes.length);
    for (const [k, node] of r.nodes.entries()) {
      const ne = shapes[k];
      expect(node.ne).toEqual(ne);
      expect(node.printed.index).toEqual(expectedIndices(ne));
      expect(node.printed.values).toEqual(node.printed.index); // value was the flat index itself
      expect(node.tolerance).toBe(5e-5);
      expect(node.srcs).toEqual([`a-${k}`, "b"]);
      const total = ne.reduce((a, b) => a * b, 1);
      expect(node.shape.reduce((a, b) => a * b, 1)).toBe(total);
    }
    expect(r.nodes[4].shape).toEqual([5, 64]);
    expect(r.nodes[5].shape).toEqual([5, 8, 8]);
    expect(r.nodes[8].shape).toEqual([2, 7, 7, 7]);
    expect(r.nodes[0].shape).toEqual([1]);
  });

  it("single-source nodes, quantized header-only nodes, nan/inf values and repeated names", () => {
    const text =
      renderNode("x-0", "f32", "RMS_NORM", [["embd", [4, 2, 1, 1]]], [4, 2, 1, 1], (f) => (f === 1 ? NaN : f === 2 ? -Infinity : f / 3)) +
      "common_debug_cb_eval:                      w = (q4_0)   GET_ROWS(token_embd.weight{64, 512, 1, 1}, inp{5, 1, 1, 1}}) = {64, 5, 1, 1}\n" +
      renderNode("x-0", "f32", "RESHAPE", [["x-0", [4, 2, 1, 1]]], [8, 1, 1, 1], (f) => f);
    const nodes = parseEvalCallback(text, "q.txt");
    expect(nodes.map((n) => [n.name, n.occurrence, n.op])).toEqual([
      ["x-0", 0, "RMS_NORM"],
      ["w", 0, "GET_ROWS"],
      ["x-0", 1, "RESHAPE"],
    ]);
    expect(nodes[0].srcs).toEqual(["embd"]);
    expect(nodes[0].printed.values[1]).toBeNaN();
    expect(nodes[0].printed.values[2]).toBe(-Infinity);
    expect(nodes[0].printed.values[3]).toBe(1);
    expect(nodes[0].sum).toBeNaN();
    expect(nodes[1].printed.values).toEqual([]);
    expect(nodes[1].sum).toBeUndefined();
    expect(nodes[2].printed.index).toEqual([0, 1, 2, 5, 6, 7]);
  });

  it("a mismatched sum across i3 blocks and a sum_sq field", () => {
    const base = renderNode("s", "f32", "ADD", [["a", [2, 1, 1, 2]]], [2, 1, 1, 2], (f) => f);
    expect(parseEvalCallback(base, "s.txt")[0].sum).toBe(6);
    const lines = base.split("\n");
    const last = lines.lastIndexOf("    sum = 6.000000");
    lines[last] = "    sum = 7.000000";
    expect(() => parseEvalCallback(lines.join("\n"), "s.txt")).toThrow(/s\.txt:\d+: .*sum differs/);
    const withSq = base.replaceAll("sum = 6.000000", "sum = 6.000000, sum_sq = 14.000000");
    expect(parseEvalCallback(withSq, "s.txt")[0].sumSq).toBe(14);
  });
});

// ---- real dumps ------------------------------------------------------------------------------------

interface Dump {
  file: string;
  text: string;
  nodes: EvalCallbackNode[];
  nLayer: number;
  /** rosetta's point widths for the same model (`rosetta trace --engine rosetta`, prompt step [5, width]). */
  widths: Record<string, number>;
  tokens: number[];
}

function loadDump(name: string, nLayer: number, widths: Record<string, number>, tokens: number[]): Dump {
  const file = path.join(DUMPS, `${name}.txt`);
  const text = readFileSync(file, "utf8");
  return { file, text, nodes: parseEvalCallback(text, file), nLayer, widths, tokens };
}

const LAYER_POINTS = ["attn_norm", "q", "k", "v", "q_rope", "k_rope", "attn", "attn_out", "ffn_inp", "ffn_norm", "ffn_gate", "ffn_up", "ffn_act", "ffn_out", "l_out"];
/** The points after llama.cpp's out_ids GET_ROWS (only the last token's row: no --all-logits). */
const LAST_ROW_ONLY = ["ffn_inp", "ffn_norm", "ffn_gate", "ffn_up", "ffn_act", "ffn_out", "l_out"];

describe.skipIf(!HAVE_DUMPS)("parseEvalCallback: the real dumps", () => {
  const width = (e: number, q: number, kv: number, ff: number, vocab: number) => ({
    embd: e, attn_norm: e, q, k: kv, v: kv, q_rope: q, k_rope: kv, attn: q, attn_out: e, ffn_inp: e, ffn_norm: e,
    ffn_gate: ff, ffn_up: ff, ffn_act: ff, ffn_out: e, l_out: e, result_norm: e, logits: vocab,
  });
  const dumps = HAVE_DUMPS
    ? [
        // widths from `rosetta trace <model> --engine rosetta --tokens <ids>`: stories260K [5,64] / k,v [5,32] /
        // ffn [5,172] / logits [5,512]; TinyLLama-v0 [5,64] / ffn [5,256] / logits [5,32000].
        loadDump("stories260K", 5, width(64, 64, 32, 172, 512), [1, 403, 407, 261, 378]),
        loadDump("TinyLLama-v0-Q4_0", 8, width(64, 64, 64, 256, 32000), [1, 4612, 2619, 260, 647]),
      ]
    : [];

  it("parses every node, without warnings; the input tokens come from stderr", () => {
    expect(dumps.map((d) => d.nodes.length)).toEqual([161, 254]);
    for (const d of dumps) {
      expect(parseEvalCallbackDump(d.text, d.file).warnings).toEqual([]);
      expect(d.nodes[0]).toMatchObject({ name: "embd", type: "f32", op: "GET_ROWS", srcs: ["token_embd.weight", "inp_tokens"], ne: [64, 5, 1, 1], shape: [5, 64], tolerance: 5e-5 });
      expect(d.nodes.at(-1)).toMatchObject({ name: "result_output", op: "MUL_MAT", shape: [d.widths.logits] });
      expect(parseEvalCallbackTokens(readFileSync(d.file.replace(/\.txt$/, ".stderr.txt"), "utf8"))).toEqual(d.tokens);
      for (const n of d.nodes) {
        expect(n.printed.index.length).toBe(n.printed.values.length);
        expect(n.printed.index).toEqual(expectedIndices(n.ne));
        expect(n.printed.values.every(Number.isFinite)).toBe(true);
      }
    }
    const s = dumps[0].nodes;
    expect(s[0].printed.values.slice(0, 7)).toEqual([-0.1271, -0.5241, 0.6063, 0.35, -0.3055, 0.0385, 0.0035]);
    expect(s[0].printed.index.slice(0, 7)).toEqual([0, 1, 2, 61, 62, 63, 64]);
    expect(s[0].sum).toBe(-3.354056);
  });

  it("repeated names keep their order: Qcur-0 is MUL_MAT, RESHAPE, ROPE", () => {
    for (const d of dumps) {
      const q = d.nodes.filter((n) => n.name === "Qcur-0");
      expect(q.map((n) => [n.op, n.occurrence])).toEqual([["MUL_MAT", 0], ["RESHAPE", 1], ["ROPE", 2]]);
    }
  });

  it("the computed indices line up across views of the same data", () => {
    for (const d of dumps) {
      const [mm, rs, rope] = d.nodes.filter((n) => n.name === "Qcur-0");
      // MUL_MAT {64,5} and its RESHAPE {8,8,5}: same buffer, same flat indices -> same values.
      const at = (n: EvalCallbackNode) => new Map(n.printed.index.map((k, j) => [k, n.printed.values[j]]));
      const a = at(mm), b = at(rs);
      const common = [...a.keys()].filter((k) => b.has(k));
      expect(common.length).toBeGreaterThan(10);
      for (const k of common) expect(b.get(k)).toBe(a.get(k));
      // RoPE at position 0 is the identity: token 0 = flat indices < 64.
      const r = at(rope);
      for (const [k, v] of b) if (k < 64) expect(r.get(k)).toBe(v);
    }
  });

  it("maps to the capture points rosetta records for the same model, with its shapes", () => {
    for (const d of dumps) {
      const mapped = mapEvalCallbackNodes(d.nodes, d.nLayer);
      const keys = mapped.map((m) => m.key);
      expect(new Set(keys).size).toBe(keys.length); // one node per point
      const expected = ["embd"];
      for (let l = 0; l < d.nLayer; l++) for (const p of LAYER_POINTS) expected.push(`blk.${l}.${p}`);
      expected.push("result_norm", "logits");
      // kq_softmax is absent: the dump ran with flash attention (FLASH_ATTN_EXT), and rosetta's default trace
      // does not record it either (78 / 123 points).
      expect([...keys].sort()).toEqual([...expected].sort());
      for (const m of mapped) {
        const numel = m.node.ne.reduce((a, b) => a * b, 1);
        const w = d.widths[m.point];
        const lastRowOnly = (m.layer === d.nLayer - 1 && LAST_ROW_ONLY.includes(m.point)) || m.point === "result_norm" || m.point === "logits";
        expect({ key: m.key, numel }).toEqual({ key: m.key, numel: (lastRowOnly ? 1 : 5) * w });
        expect(m.node.shape[0]).toBe(lastRowOnly ? w : 5); // tokens outermost ([5,...]) or a single row [w]
      }
      // every node name maps the same way through the name-only function (where it maps at all)
      for (const m of mapped) expect(mapEvalCallbackNode(m.node.name, m.node.op, d.nLayer)).toEqual({ point: m.point, layer: m.layer });
    }
  });
});

describe("mapEvalCallbackNode: the rules of native/llama/capture.cc", () => {
  it.each([
    ["embd", "GET_ROWS", { point: "embd", layer: null }],
    ["embd-0", "GET_ROWS", null],
    ["norm-0", "RMS_NORM", null],
    ["attn_norm-3", "MUL", { point: "attn_norm", layer: 3 }],
    ["Qcur-2", "MUL_MAT", null],
    ["Qcur-2", "RESHAPE", { point: "q", layer: 2 }],
    ["Vcur-2", "RESHAPE", { point: "v", layer: 2 }],
    ["Kcur-2", "ROPE", { point: "k_rope", layer: 2 }],
    ["Vcur-2", "ROPE", null],
    ["Qcur-0 (view)", "VIEW", null],
    ["kq_soft_max-1", "SOFT_MAX", { point: "kq_softmax", layer: 1 }],
    ["kqv_out-1", "CONT", { point: "attn", layer: 1 }],
    ["kqv_out-1", "RESHAPE", { point: "attn", layer: 1 }],
    ["attn_out-4", "MUL_MAT", { point: "attn_out", layer: 4 }],
    ["ffn_out-4", "MUL_MAT", { point: "ffn_out", layer: 4 }],
    ["ffn_out-4", "ADD", null],
    ["ffn_swiglu-0", "SWIGLU", { point: "ffn_act", layer: 0 }],
    ["l_out-0", "ADD", { point: "l_out", layer: 0 }],
    ["result_norm", "MUL", { point: "result_norm", layer: null }],
    ["result_output", "MUL_MAT", { point: "logits", layer: null }],
    ["node_21", "FLASH_ATTN_EXT", null],
    ["cache_k_l0 (view)", "SET_ROWS", null],
  ])("%s %s", (name, op, want) => {
    expect(mapEvalCallbackNode(name, op)).toEqual(want);
  });

  it("layers beyond nLayer and unnamed projections found by weight", () => {
    expect(mapEvalCallbackNode("l_out-5", "ADD", 5)).toBeNull();
    expect(mapEvalCallbackNode("l_out-4", "ADD", 5)).toEqual({ point: "l_out", layer: 4 });
    expect(mapEvalCallbackNode("node_40", "MUL_MAT", undefined, "blk.2.attn_output.weight")).toEqual({ point: "attn_out", layer: 2 });
    expect(mapEvalCallbackNode("node_41", "MUL_MAT", undefined, "blk.3.ffn_down.weight")).toEqual({ point: "ffn_out", layer: 3 });
    expect(mapEvalCallbackNode("node_41", "MUL_MAT", 3, "blk.3.ffn_down.weight")).toBeNull();
    expect(mapEvalCallbackNode("node_41", "MUL_MAT", undefined, "blk.3.ffn_up.weight")).toBeNull();
  });
});

describe("parseEvalCallbackTokens", () => {
  it("reads the ids, or null when absent or incomplete", () => {
    const log = "0.00.017.973 I number of input tokens = 3\n0.00.017.989 I   1\n0.00.017.990 I   403\n0.00.017.990 I   407\n";
    expect(parseEvalCallbackTokens(log)).toEqual([1, 403, 407]);
    expect(parseEvalCallbackTokens("number of input tokens = 2\n  5\n  6\n")).toEqual([5, 6]);
    expect(parseEvalCallbackTokens(log.split("\n").slice(0, 3).join("\n"))).toBeNull();
    expect(parseEvalCallbackTokens("system_info: n_threads = 1\n")).toBeNull();
    expect(parseEvalCallbackTokens("number of input tokens = 2\n  5\nllama_perf: x\n")).toBeNull();
  });
});

// ---- fuzz -----------------------------------------------------------------------------------------

describe("parseEvalCallback: fuzz (truncation, reordered lines, corrupted numbers and counts)", () => {
  const seed = Number(process.env.ROSETTA_FUZZ_SEED ?? 20);
  const cases = Number(process.env.ROSETTA_FUZZ_CASES ?? 300);
  const source = HAVE_DUMPS ? readFileSync(path.join(DUMPS, "stories260K.txt"), "utf8").split("\n").slice(0, 753).join("\n") + "\n" : synthDump().text;
  const full = parseEvalCallbackDump(source, "f.txt");
  const lines = source.split("\n");
  const ctx = `seed ${seed}`;

  it("baseline parses", () => {
    expect(full.warnings).toEqual([]);
    expect(full.nodes.length).toBeGreaterThan(5);
  });

  it("a cut anywhere gives exactly the complete nodes, a warning when a node was cut, never an error", () => {
    // where each node's text ends (end of its last sum line, before the newline)
    const lineEnd: number[] = [];
    for (let i = 0, off = 0; i < lines.length; i++) (off += lines[i].length), lineEnd.push(off), (off += 1);
    const nodeEnd = full.nodes.map((nd, j) => {
      const stop = j + 1 < full.nodes.length ? full.nodes[j + 1].line - 1 : lines.length;
      let last = stop - 1;
      while (!lines[last].trim().startsWith("sum =")) last--;
      return lineEnd[last];
    });
    const r = rng(seed);
    const offsets = [0, 1, source.length - 1, source.length, ...nodeEnd, ...nodeEnd.map((e) => e - 1), ...Array.from({ length: cases }, () => randInt(r, source.length + 1))];
    for (const off of offsets) {
      const cut = source.slice(0, off);
      const got = parseEvalCallbackDump(cut, "f.txt");
      const k = nodeEnd.filter((e) => e <= off).length;
      expect(got.nodes.length, `${ctx} cut ${off}`).toBe(k);
      expect(got.nodes, `${ctx} cut ${off}`).toEqual(full.nodes.slice(0, k));
      const rest = cut.slice(k > 0 ? nodeEnd[k - 1] : 0);
      expect(got.warnings.length, `${ctx} cut ${off}`).toBe(rest.trim() === "" ? 0 : 1);
      if (got.warnings.length) expect(got.warnings[0]).toMatch(/^f\.txt:\d+: the output ends inside node/);
    }
  });

  const kind = (l: string) => {
    const t = l.trim();
    if (t.startsWith("common_debug_cb_eval:")) return "header";
    if (t.startsWith("sum =")) return "sum";
    if (t === "...,") return "elision";
    if (t.startsWith("[") && t.endsWith("],") && t.length > 3) return "row";
    return t;
  };

  function outcome(text: string): { nodes?: EvalCallbackNode[]; warnings?: string[]; error?: string } {
    try {
      const r = parseEvalCallbackDump(text, "f.txt");
      return { nodes: r.nodes, warnings: r.warnings };
    } catch (e) {
      expect(e).toBeInstanceOf(EvalCallbackParseError);
      const msg = (e as Error).message;
      expect(msg).toMatch(/^f\.txt:\d+: llama-eval-callback output: /);
      expect(msg.includes("\n")).toBe(false);
      return { error: msg };
    }
  }

  it("swapping two lines of different kinds is an error; same kind never changes the node list's structure", () => {
    const r = rng(seed + 1);
    let errors = 0;
    for (let n = 0; n < cases; n++) {
      const a = randInt(r, lines.length - 1), b = randInt(r, lines.length - 1);
      if (lines[a] === lines[b]) continue;
      const m = [...lines];
      [m[a], m[b]] = [m[b], m[a]];
      const o = outcome(m.join("\n"));
      if (kind(lines[a]) !== kind(lines[b])) {
        expect(o.error, `${ctx} swap ${a + 1}/${b + 1}`).toBeDefined();
        errors++;
      } else if (!o.error) {
        // two rows, two sums, two headers of equal layout: undetectable by format, but the nodes keep their layout
        expect(o.warnings).toEqual([]);
        expect(o.nodes!.map((x) => x.printed.index.length)).toEqual(full.nodes.map((x) => x.printed.index.length));
      }
    }
    expect(errors).toBeGreaterThan(cases / 4);
  });

  it("garbage numbers, wrong counts, broken headers: one clear error naming the line", () => {
    const r = rng(seed + 2);
    const rowLines = lines.map((l, i) => [l, i] as const).filter(([l]) => kind(l) === "row");
    const headerLines = lines.map((l, i) => [l, i] as const).filter(([l]) => kind(l) === "header");
    const sumLines = lines.map((l, i) => [l, i] as const).filter(([l]) => kind(l) === "sum");
    const edits: ((l: string) => string)[] = [
      (l) => l.replace(/-?\d+\.\d{4}/, "1.2.3456"),
      (l) => l.replace(/-?\d+\.\d{4}/, "abc"),
      (l) => l.replace(/-?\d+\.\d{4}/, ""),
      (l) => l.replace(/(-?\d+\.\d{4}), /, ""),
      (l) => l.replace(/, +-?\d+\.\d{4}/, ", 1.0000, 2.0000"),
      (l) => l.replace("...", "..").replace(/^(\s*\[)/, "$1"),
      (l) => l.replace("  ],", "  ]"),
      (l) => l.replace("[", ""),
    ];
    const headerEdits: ((l: string) => string)[] = [
      (l) => l.replace(/\{(\d+), (\d+), (\d+), (\d+)\}$/, "{$1, $2, $3}"),
      (l) => l.replace(/\{(\d+), /, "{x, ").replace(/= \{(\d+), /, "= {x, "),
      (l) => l.replace(/\) = \{(\d+)/, () => ") = {2"),
      (l) => l.replace(/= \(f32\)/, "= f32"),
      (l) => l.replace("common_debug_cb_eval:", "common_debug_cb:"),
    ];
    const sumEdits: ((l: string) => string)[] = [(l) => l.replace("sum =", "sum:"), (l) => l.replace(/= .*/, "= 1.2.3"), (l) => l + " x"];
    const groups = [
      [rowLines, edits],
      [headerLines, headerEdits],
      [sumLines, sumEdits],
    ] as const;
    for (let n = 0; n < cases; n++) {
      const [pool, eds] = groups[randInt(r, groups.length)];
      const [line, i] = pool[randInt(r, pool.length)];
      const edited = eds[randInt(r, eds.length)](line);
      if (edited === line) continue;
      const m = [...lines];
      m[i] = edited;
      const o = outcome(m.join("\n"));
      expect(o.error, `${ctx} line ${i + 1}: ${edited}`).toBeDefined();
      const at = Number(/^f\.txt:(\d+):/.exec(o.error!)![1]);
      // reported at the edited line, or (dims changed in the header) where the body stops fitting them
      expect(at, `${ctx} line ${i + 1}: ${o.error}`).toBeGreaterThanOrEqual(i + 1);
      if (kind(line) !== "header") expect(at).toBe(i + 1);
    }
  });

  it("text that is not a dump: a stray log line between nodes is an error", () => {
    const m = [...lines];
    m.splice(full.nodes[2].line - 1, 0, "llama_perf_context_print: load time = 1.00 ms");
    expect(outcome(m.join("\n")).error).toMatch(/^f\.txt:\d+: .*expected a node header/);
    expect(parseEvalCallbackDump("", "e.txt")).toEqual({ nodes: [], warnings: [] });
    const w: string[] = [];
    expect(parseEvalCallback(source.slice(0, source.length - 5), "t.txt", w).length).toBe(full.nodes.length - 1);
    expect(w).toEqual([expect.stringMatching(/^t\.txt:\d+: the output ends inside node "[^"]+": dropped \(lost tail\)$/)]);
  });
});
