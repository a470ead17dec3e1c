/**
 * The model config travels with every trace and is compared like the weights: a metadata-only defect (RMSNorm
 * eps 1e-5 or 1e-3 instead of 1e-6) against a saved llama.cpp trace fails with a diagnosis naming the GGUF key
 * and both values, even when every activation stays inside the threshold (1e-5 on this fixture: worst NMSE ~6e-6); an old trace without the config says the
 * config was not compared (never "agree"). Also: what the bridge records (llama.cpp's own metadata, exact
 * floats), trace-vs-trace, and two unrelated networks refused up front. Real llama.cpp, generated fixtures.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";

import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { exitCodeOf } from "../../src/cli/commands/CompareCommand.js";
import { worstNmse } from "../../src/compare/metrics.js";
import { renderText } from "../../src/compare/report/text.js";
import { checkSameNetwork, runComparison } from "../../src/pipeline/run-comparison.js";
import { META_FIELDS, diffConfigs } from "../../src/compare/config-diff.js";
import { injectDefect, parseDefect } from "../../src/convert/defects.js";
import { irToGguf, readGgufIr } from "../../src/convert/ir.js";
import { loadModel } from "../../src/formats/index.js";
import { runRosettaTrace } from "../../src/model/trace-run.js";
import { runLlamaCppTrace } from "../../src/reference/llamacpp.js";
import { writeTrace } from "../../src/trace/io.js";
import { InputError } from "../../src/util/errors.js";
import { ARCHS, getFixture } from "../fixtures/lib/index.js";
import { tryBridge } from "../helpers/bridge.js";

const bridge = tryBridge("default");
const PROMPT = "Once upon a time there was a little girl named Lily";
const EPS_KEY = "llama.attention.layer_norm_rms_epsilon";
const dir = mkdtempSync(path.join(os.tmpdir(), "rosetta-config-check-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe.skipIf(!bridge)("model config in traces and comparisons", () => {
  let good = "";
  let bad = ""; // eps 1e-5: activations within the default threshold
  let bad3 = ""; // eps 1e-3
  let saved = ""; // llama.cpp trace of the good model, with full tensors

  beforeAll(async () => {
    good = await getFixture("llama", "F32");
    for (const [v, f] of [["1e-5", "eps5.gguf"], ["1e-3", "eps3.gguf"]]) {
      const ir = await readGgufIr(good);
      injectDefect(ir, parseDefect(`rms-eps=${v}`), "gguf");
      writeFileSync(path.join(dir, f), irToGguf(ir));
    }
    bad = path.join(dir, "eps5.gguf");
    bad3 = path.join(dir, "eps3.gguf");
    const t = await runLlamaCppTrace({ model: good, prompt: PROMPT, gen: 1, full: ["*"] });
    saved = writeTrace(path.join(dir, "ref"), t.trace, t.tensors);
  });

  it("the bridge records llama.cpp's metadata (exact floats) and the same config rosetta loads, on every arch", async () => {
    for (const arch of ARCHS) {
      const file = await getFixture(arch, "Q8_0");
      const { trace } = await runLlamaCppTrace({ model: file, tokens: [1, 2, 3] });
      const m = await loadModel(file);
      const eps = trace.model.metadata![`${arch}.attention.layer_norm_rms_epsilon`];
      expect(eps, arch).toBe(Math.fround(1e-6)); // llama_model_meta_val_str alone would say "0.000001"
      expect(eps, arch).toBe(m.config.rmsEps);
      expect(trace.model.metadata!["general.architecture"]).toBe(arch);
      const d = diffConfigs(trace.model.config, m.config);
      expect(d.compared, arch).toEqual(META_FIELDS);
      expect(d.mismatches, arch).toEqual([]);
      expect(trace.model.config!.ropeLayout, arch).toBe(arch === "llama" ? "norm" : "neox"); // llama_model_rope_type
    }
  });

  it("rms eps 1e-5 vs a saved llama.cpp trace of the 1e-6 model: fails, naming the key and both values", async () => {
    const r = await runComparison({ a: { path: bad }, b: { path: saved } });
    // the activations alone would pass at the default threshold: that is why the config must be compared
    const worst = Math.max(...r.points.filter((p) => p.all).map((p) => worstNmse(p.all, p.last) ?? Infinity));
    expect(worst).toBeLessThan(1e-3);
    expect(r.counts.diverged).toBe(0);
    expect(r.config!.status).toBe("differs");
    expect(r.config!.mismatches).toEqual([{ field: "rmsEps", a: Math.fround(1e-5), b: Math.fround(1e-6) }]);
    expect(r.verdict).toBe("DIVERGED");
    expect(r.diagnosis!.id).toBe("metadata-mismatch");
    expect(r.diagnosis!.evidence[0]).toBe(`rmsEps (${EPS_KEY}): A 0.00001, B 0.000001`);
    expect(exitCodeOf(r, true)).toBe(1);
    const text = renderText(r);
    expect(text).toContain(`[ROSETTA] Config: DIFFERS: rmsEps (${EPS_KEY}): A 0.00001, B 0.000001`);
    expect(text).toMatch(/FAILED: metadata mismatch/);
    // 1e-3: the activations diverge too (NMSE ~0.05 here); the config difference explains it
    const r3 = await runComparison({ a: { path: bad3 }, b: { path: saved } });
    expect(r3.diagnosis!.id).toBe("metadata-mismatch");
    expect(r3.diagnosis!.evidence[0]).toBe(`rmsEps (${EPS_KEY}): A 0.001, B 0.000001`);
  });

  it("the good model against its own saved trace: config agrees on every field, MATCH", async () => {
    const r = await runComparison({ a: { path: good }, b: { path: saved } });
    expect(r.config!.status).toBe("match");
    expect(r.config!.compared).toHaveLength(META_FIELDS.length);
    expect(r.verdict).toBe("MATCH");
    expect(renderText(r)).toContain(`[ROSETTA] Config: ${META_FIELDS.length} field(s) agree\n`);
  });

  it("trace vs trace: a rosetta trace of the defect against the llama.cpp trace fails the same way", async () => {
    const t = await runRosettaTrace({ model: bad, prompt: PROMPT, gen: 1, full: ["*"], kq: true });
    expect(t.trace.model.metadata![EPS_KEY]).toBe(Math.fround(1e-5));
    expect(t.trace.model.config!.rmsEps).toBe(Math.fround(1e-5));
    const mine = writeTrace(path.join(dir, "mine"), t.trace, t.tensors);
    const r = await runComparison({ a: { path: mine }, b: { path: saved } });
    expect(r.diagnosis!.id).toBe("metadata-mismatch");
    expect(r.diagnosis!.evidence[0]).toContain(EPS_KEY);
    expect(r.verdict).toBe("DIVERGED");
  });

  it("an old trace without the new config fields: those fields are 'not compared', never 'agree'", async () => {
    const old = JSON.parse(readFileSync(saved, "utf8"));
    const c = old.model.config;
    // what the bridge recorded before (nLayer, nEmbd, nHead, nHeadKv, nVocab, nCtxTrain, addBos, desc)
    old.model.config = { nLayer: c.nLayer, nEmbd: c.nEmbd, nHead: c.nHead, nHeadKv: c.nHeadKv, nVocab: c.nVocab, nCtxTrain: c.nCtxTrain, addBos: c.addBos, desc: c.desc };
    delete old.model.metadata;
    const oldFile = path.join(dir, "old.json");
    writeFileSync(oldFile, JSON.stringify(old));
    const r = await runComparison({ a: { path: bad }, b: { path: oldFile } });
    expect(r.config!.status).toBe("partial");
    expect(r.config!.compared).toEqual(["nLayer", "nEmbd", "nHead", "nHeadKv", "nVocab"]);
    expect(r.config!.missingB).toContain("rmsEps");
    expect(r.findings.some((f) => f.id === "metadata-mismatch")).toBe(false); // nothing to compare it with
    const text = renderText(r);
    expect(text).toMatch(/\[ROSETTA\] Config: 5 field\(s\) agree; NOT compared: arch, headDim, nFf, rmsEps, .* \(B does not record them\)/);
    expect(text).toMatch(/model config only partly compared/);
    delete old.model.config;
    writeFileSync(oldFile, JSON.stringify(old));
    const r2 = await runComparison({ a: { path: bad }, b: { path: oldFile } });
    expect(r2.config!.status).toBe("not-compared");
    expect(renderText(r2)).toMatch(/Config: could not be compared[\s\S]*model config could not be compared/);
  });

  it("an architecture difference is a config finding, not a refusal; networks that cannot align are refused: one line, exit 2", async () => {
    const qwen = await getFixture("qwen2", "F32");
    const res = await runComparison({ a: { path: good }, b: { path: qwen }, tokens: [1, 2, 3] });
    expect(res.findings.find((f) => f.id === "architecture-differs")?.evidence[0]).toMatch(/architecture: A llama, B qwen2/);
    expect(res.verdict).toBe("DIVERGED"); // two fixtures with different random weights
    // dims from a saved trace's config count too
    const small = { path: "s.gguf", config: { arch: "llama", nLayer: 5, nEmbd: 64, nHead: 8 } };
    expect(() => checkSameNetwork(small, { path: saved, config: JSON.parse(readFileSync(saved, "utf8")).model.config })).toThrow(
      /s.gguf \(llama, 5 layers, n_embd 64, 8 heads\) and .*ref.json \(llama, 2 layers, n_embd 256, 4 heads\) are different networks \(nLayer, nEmbd, nHead differ\)/,
    );
    // a mistral file is a llama network; fields a side does not record are not held against it
    expect(() => checkSameNetwork({ path: "a", config: { arch: "mistral", nEmbd: 64 } }, { path: "b", config: { arch: "llama" } })).not.toThrow();
  });
});
