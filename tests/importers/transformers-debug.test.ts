/**
 * transformers' model-addition debugger JSON (model_addition_debugger_context: `<Class>_debug_tree_SUMMARY.json`
 * and `_FULL_TENSORS.json`), written in its exact call-tree layout from a fixture's real activations as if
 * a Hugging Face llama produced them (torch reprs of the statistics, sample std, leaf outputs only),
 * imported and compared against the model: summaries only (MATCH, verifiedOn summaries-only), nothing diverges; a divergence
 * injected into layer 1 is found there; bad JSON is one line, exit 2.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";

import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { f32Bytes, irToGguf, readGgufIr, toF32 } from "../../src/convert/ir.js";
import { importTransformersDebug, parseTorchScalar } from "../../src/importers/transformers-debug.js";
import { runRosettaTrace } from "../../src/model/trace-run.js";
import { renderText } from "../../src/compare/report/text.js";
import { runComparison } from "../../src/pipeline/run-comparison.js";
import { encodeSafetensors, type F32Tensor } from "../../src/trace/safetensors.js";
import type { Trace } from "../../src/trace/types.js";
import { InputError } from "../../src/util/errors.js";
import { getFixture } from "../fixtures/lib/index.js";
import { goodAndBadRuns, writeIn, type Run } from "./runs.js";
import { runCli } from "../helpers/cli.js";

const dir = mkdtempSync(path.join(os.tmpdir(), "rosetta-hfdebug-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const TOKENS = [1, 17, 42, 9, 23, 5, 77];
const CLS = "LlamaForCausalLM";


/** torch's repr of a 0-d float32 tensor under sci_mode=True (precision 4): `tensor(-1.2346e-02)`. */
function trepr(v: number): string {
  if (Number.isNaN(v)) return "tensor(nan)";
  const [m, e] = v.toExponential(4).split("e");
  const n = Number(e);
  return `tensor(${m}e${n < 0 ? "-" : "+"}${String(Math.abs(n)).padStart(2, "0")})`;
}

/** Where ser() saves full tensors as the debugger does with use_repr=False (null: statistics only). */
let SAVE: { dir: string; n: number } | null = null;

/** _serialize_tensor_like_io of a [1, T, W] float32 tensor (value stripped, as in the SUMMARY; with SAVE,
 *  the tensor saved beside the JSON as a one-tensor safetensors file named in `value`, as use_repr=False). */
function ser(x: Float32Array, T: number): Record<string, unknown> {
  const saved: Record<string, unknown> = {};
  if (SAVE) {
    const name = `t${SAVE.n++}_outputs.safetensors`;
    writeFileSync(path.join(SAVE.dir, name), encodeSafetensors(new Map([["data", { shape: [1, T, x.length / T], data: Float32Array.from(x) }]])));
    saved.value = `./${name}`;
  }
  let sum = 0, min = Infinity, max = -Infinity;
  for (const v of x) {
    sum += v;
    min = Math.min(min, v);
    max = Math.max(max, v);
  }
  const mean = sum / x.length;
  let ss = 0;
  for (const v of x) ss += (v - mean) ** 2;
  return { shape: `torch.Size([1, ${T}, ${x.length / T}])`, dtype: "torch.float32", ...saved, mean: trepr(mean), std: trepr(Math.sqrt(ss / (x.length - 1))), min: trepr(min), max: trepr(max) };
}

/** The debugger's call tree of one llama forward; `full` adds the FULL_TENSORS `value` of input_ids. */
function debugTree(r: Run, opts: { full?: boolean; layers?: number[]; lastLogits?: boolean } = {}): string {
  const T = TOKENS.length;
  const c = r.trace.model.config as Record<string, number>;
  const t = (key: string) => {
    const p = r.trace.points.find((x) => x.step === 0 && x.key === key)!;
    return r.tensors.get(p.tensor!)!.data;
  };
  const S = (key: string) => ser(t(key), T);
  const ids = { shape: `torch.Size([1, ${T}])`, dtype: "torch.int64", ...(opts.full ? { value: [`tensor([[${TOKENS.map((x) => String(x).padStart(2)).join(", ")}]])`] } : {}) };
  const node = (p: string, inputs: unknown, outputs?: unknown, children?: unknown[]) => ({ module_path: `${CLS}.${p}`, inputs, ...(outputs !== undefined ? { outputs } : {}), ...(children ? { children } : {}) });
  const cos = { shape: `torch.Size([1, ${T}, ${c.headDim}])`, dtype: "torch.float32", mean: "tensor(5.0000e-01)", std: "tensor(4.0000e-01)", min: "tensor(-1.0000e+00)", max: "tensor(1.0000e+00)" };
  const layers = (opts.layers ?? Array.from({ length: c.nLayer }, (_, l) => l)).map((l) => {
    const inp = l === 0 ? S("embd") : S(`blk.${l - 1}.l_out`);
    const mask = { attention_mask: "None", position_ids: { shape: `torch.Size([1, ${T}])`, dtype: "torch.int64" }, use_cache: "True", cache_position: { shape: `torch.Size([${T}])`, dtype: "torch.int64" } };
    return node(`model.layers.${l}`, { args: [inp], kwargs: { ...mask, position_embeddings: [cos, cos] } }, undefined, [
      node(`model.layers.${l}.input_layernorm`, { args: [inp] }, S(`blk.${l}.attn_norm`)),
      node(`model.layers.${l}.self_attn`, { kwargs: { hidden_states: S(`blk.${l}.attn_norm`), position_embeddings: [cos, cos], attention_mask: "None" } }, undefined, [
        node(`model.layers.${l}.self_attn.q_proj`, { args: [S(`blk.${l}.attn_norm`)] }, S(`blk.${l}.q`)),
        node(`model.layers.${l}.self_attn.k_proj`, { args: [S(`blk.${l}.attn_norm`)] }, S(`blk.${l}.k`)),
        node(`model.layers.${l}.self_attn.v_proj`, { args: [S(`blk.${l}.attn_norm`)] }, S(`blk.${l}.v`)),
        node(`model.layers.${l}.self_attn.o_proj`, { args: [S(`blk.${l}.attn`)] }, S(`blk.${l}.attn_out`)),
      ]),
      node(`model.layers.${l}.post_attention_layernorm`, { args: [S(`blk.${l}.ffn_inp`)] }, S(`blk.${l}.ffn_norm`)),
      node(`model.layers.${l}.mlp`, { args: [S(`blk.${l}.ffn_norm`)] }, undefined, [
        node(`model.layers.${l}.mlp.gate_proj`, { args: [S(`blk.${l}.ffn_norm`)] }, S(`blk.${l}.ffn_gate`)),
        node(`model.layers.${l}.mlp.act_fn`, { args: [S(`blk.${l}.ffn_gate`)] }, ser(t(`blk.${l}.ffn_gate`).map((v) => v / (1 + Math.exp(-v))), T)),
        node(`model.layers.${l}.mlp.up_proj`, { args: [S(`blk.${l}.ffn_norm`)] }, S(`blk.${l}.ffn_up`)),
        node(`model.layers.${l}.mlp.down_proj`, { args: [S(`blk.${l}.ffn_act`)] }, S(`blk.${l}.ffn_out`)),
      ]),
    ]);
  });
  const logits = t("logits");
  const tree = {
    module_path: CLS,
    inputs: { kwargs: { input_ids: ids } },
    children: [
      node("model", { kwargs: { input_ids: ids } }, undefined, [
        node("model.embed_tokens", { args: [ids] }, S("embd")),
        node("model.rotary_emb", { args: [S("embd")], kwargs: { position_ids: { shape: `torch.Size([1, ${T}])`, dtype: "torch.int64" } } }, [cos, cos]),
        ...layers,
        node("model.norm", { args: [S(`blk.${c.nLayer - 1}.l_out`)] }, S("result_norm")),
      ]),
      node("lm_head", { args: [S("result_norm")] }, opts.lastLogits ? ser(logits.subarray(logits.length - c.nVocab), 1) : S("logits")),
    ],
  };
  return JSON.stringify(tree, null, 2);
}

let good: Run, bad: Run, model = "";
beforeAll(async () => {
  ({ model, good, bad } = await goodAndBadRuns(dir, TOKENS));
});

const write = (name: string, text: string) => writeIn(dir, name, text);

describe("transformers model-addition debugger JSON", () => {
  it("torch scalar reprs", () => {
    expect(parseTorchScalar("tensor(-1.2346e-02)")).toBeCloseTo(-0.012346, 9);
    expect(parseTorchScalar("tensor(3.5000e+00, device='cuda:0')")).toBe(3.5);
    expect(parseTorchScalar("tensor(1.0000e+00, dtype=torch.bfloat16)")).toBe(1);
    expect(parseTorchScalar("tensor(nan)")).toBeNaN();
    expect(parseTorchScalar("tensor(-inf)")).toBe(-Infinity);
    expect(parseTorchScalar("1.5")).toBeNull();
  });

  it("maps the llama module tree to points, whole-tensor statistics (all tokens), sample std converted", () => {
    const imp = importTransformersDebug("x_SUMMARY.json", debugTree(good), { tokens: TOKENS }).trace;
    const c = good.trace.model.config as Record<string, number>;
    const keys = imp.points.map((p) => p.key);
    for (const k of ["embd", "blk.0.attn_norm", "blk.0.q", "blk.0.k", "blk.0.v", "blk.0.attn", "blk.0.attn_out", "blk.0.ffn_inp", "blk.0.ffn_norm", "blk.0.ffn_gate", "blk.0.ffn_up", "blk.0.ffn_act", "blk.0.ffn_out", "blk.0.l_out", `blk.${c.nLayer - 1}.l_out`, "result_norm", "logits"]) expect(keys, k).toContain(k);
    const p = imp.points.find((x) => x.key === "blk.0.l_out")!;
    expect(p.all?.count).toBe(TOKENS.length * c.nEmbd);
    expect(p.last).toBeNull();
    const own = good.trace.points.find((x) => x.key === "blk.0.l_out")!.all!;
    expect(p.all!.std).toBeCloseTo(own.std, 4);
    expect(imp.imported?.notes.join(" ")).toMatch(/NaN\/Inf\/zero counts are not recorded and assumed 0/);
    expect(imp.imported?.notes.join(" ")).toMatch(/act_fn .* not compared/);
  });

  it("against the model: summaries only, nothing diverges (MATCH on summaries only); tokens from FULL_TENSORS' input_ids", async () => {
    const f = write(`${CLS}_debug_tree_FULL_TENSORS.json`, debugTree(good, { full: true }));
    const r = await runComparison({ a: { path: f }, b: { path: model }, tokens: TOKENS });
    expect(r.counts.diverged + r.counts["sample-mismatch"]).toBe(0);
    const compared = r.points.filter((x) => x.status === "summary-agree");
    expect(compared.length).toBeGreaterThan(10);
    expect([r.verdict, r.verifiedOn]).toEqual(["MATCH", "summaries-only"]);
  });

  it("use_repr=False: full tensors read from the safetensors files beside the JSON: MATCH on full tensors; a divergence in layer 1 found element by element", async () => {
    const sub = path.join(dir, "full");
    mkdirSync(sub, { recursive: true });
    SAVE = { dir: sub, n: 0 };
    let goodJson: string, badJson: string;
    try {
      goodJson = debugTree(good, { full: true });
      badJson = debugTree(bad, { full: true });
    } finally {
      SAVE = null;
    }
    const f = path.join(sub, `${CLS}_debug_tree_FULL_TENSORS.json`);
    writeFileSync(f, goodJson);
    const r = await runComparison({ a: { path: f }, b: { path: model }, tokens: TOKENS });
    expect(r.counts["summary-agree"]).toBe(0);
    expect(r.counts.match).toBeGreaterThan(10);
    expect([r.verdict, r.verifiedOn]).toEqual(["MATCH", "full-tensors"]);
    expect(r.a.imported?.fullTensors).toBe(r.counts.match);
    expect(renderText(r)).toMatch(/it can verify full tensors of \d+ point\(s\)/);
    // a file named in `value` but gone: that point falls back to its statistics, with a note
    const g = path.join(sub, "partial_debug_tree_FULL_TENSORS.json");
    const tree = JSON.parse(goodJson) as { children: { children: { module_path: string; outputs?: { value?: string } }[] }[] };
    tree.children[0].children.find((n) => n.module_path.endsWith(".embed_tokens"))!.outputs!.value = "./gone.safetensors";
    writeFileSync(g, JSON.stringify(tree));
    const part = importTransformersDebug(g, readFileSync(g, "utf8"));
    expect(part.trace.imported?.notes.join(" ")).toMatch(/1 tensor file\(s\) not read, their statistics used instead: .*gone\.safetensors \(absent or unreadable\)/);
    const b = path.join(sub, `bad_debug_tree_FULL_TENSORS.json`);
    writeFileSync(b, badJson);
    const rb = await runComparison({ a: { path: b }, b: { path: model }, tokens: TOKENS });
    expect(rb.verdict).toBe("DIVERGED");
    expect(rb.firstDivergence?.key).toBe("blk.1.ffn_out");
    expect(rb.firstDivergence?.all?.basis).toBe("tensor");
  });

  it("layers left out of the tree (the debugger's pruning) and last-position logits (from the shape)", () => {
    const c = good.trace.model.config as Record<string, number>;
    const imp = importTransformersDebug("p.json", debugTree(good, { layers: [c.nLayer - 1], lastLogits: true }), { tokens: TOKENS }).trace;
    const lg = imp.points.find((p) => p.key === "logits")!;
    expect(lg.all).toBeNull();
    expect(lg.last?.count).toBe(c.nVocab);
    expect(imp.points.some((p) => p.key === "blk.0.ffn_out")).toBe(false);
    expect(imp.points.some((p) => p.key === `blk.${c.nLayer - 1}.l_out`)).toBe(true);
    expect(imp.imported?.notes.join(" ")).toMatch(/layers 0(, \d+)* not in the tree/);
  });

  it("a divergence injected in layer 1 (ffn_down x1.5) is found at blk.1.ffn_out", async () => {
    const f = write("bad_debug_tree_SUMMARY.json", debugTree(bad));
    const imp = importTransformersDebug(f, debugTree(bad), { tokens: TOKENS });
    const { writeTrace } = await import("../../src/trace/io.js");
    const saved = writeTrace(path.join(dir, "bad-imported"), imp.trace);
    const r = await runComparison({ a: { path: saved }, b: { path: model }, tokens: TOKENS });
    expect(r.verdict).toBe("DIVERGED");
    expect(r.firstDivergence?.key).toBe("blk.1.ffn_out");
    expect(r.firstDivergence?.all?.basis).toBe("summary");
  });

  it("bad JSON: one clear line (InputError; exit 2 from the CLI)", () => {
    const ok = JSON.parse(debugTree(good));
    const cases: [string, string, RegExp][] = [
      ["truncated", debugTree(good).slice(0, 400), /not JSON/],
      ["no tokens", debugTree(good), /give --tokens/],
      ["bad repr", JSON.stringify(ok).replace(/"mean": ?"tensor\([^)]*\)"/, '"mean":"0.5"'), /is not a torch scalar repr/],
      ["batch 2", JSON.stringify(ok).replace("torch.Size([1, 7, ", "torch.Size([2, 7, "), /batch 2/],
      ["no layers", JSON.stringify({ module_path: CLS, children: [] }), /no decoder layers/],
    ];
    for (const [what, text, re] of cases) {
      expect(() => importTransformersDebug("x.json", text), what).toThrow(InputError);
      try {
        importTransformersDebug("x.json", text);
      } catch (e) {
        expect((e as Error).message, what).toMatch(re);
        expect((e as Error).message, what).not.toContain("\n");
      }
    }
    const f = write("broken_debug_tree_SUMMARY.json", debugTree(good).slice(0, 400));
    const r = runCli(["import", f, "--out", path.join(dir, "o")]);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(r.stderr).toMatch(/transformers debugger JSON: not JSON/);
    const g = write("ok_debug_tree_SUMMARY.json", debugTree(good));
    const r2 = runCli(["import", g, "--out", path.join(dir, "hf"), "--tokens", TOKENS.join(",")]);
    expect(r2.code, r2.stderr).toBe(0);
  });
});
