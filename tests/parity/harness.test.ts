import { describe, expect, it } from "vitest";

import { bandFor } from "../../src/parity/bands.js";
import { canonicalJson, parseManifest, tokenizerSha256 } from "../../src/parity/manifest.js";
import { comparePrompt } from "../../src/parity/prompt.js";
import { measureRows, measureTable, overBand } from "../../src/parity/measure.js";
import { detailLines, junit, summaryTable, isaTable, verdictLine } from "../../src/parity/report.js";
import { caseId, mergeRuns, parseShard, runToJson, selectShard } from "../../src/parity/shard.js";
import { BUCKETS, defaultSuitePath, loadSuite, parseSuite, tokensFor } from "../../src/parity/suite.js";
import { runPassed, type ParityRunResult, type PromptResult } from "../../src/parity/types.js";
import { InputError } from "../../src/util/errors.js";

function result(promptIdx: number, rosShift: number, isa = "avx2", numerics: "ggml" | "exact" = "ggml"): PromptResult {
  const V = 8;
  const gen = [1, 2];
  const ref = new Float32Array(2 * V).fill(-1);
  ref[1] = 5;
  ref[V + 2] = 5;
  const ros = Float32Array.from(ref);
  if (rosShift) ros[V + 3] = 5 + rosShift; // position 1: rosetta prefers id 3 by rosShift
  return comparePrompt(
    { ref, ros, vocab: V, promptLen: 3, generated: gen },
    { model: "m.gguf", quant: "Q8_0", numerics, isa, promptIdx, promptId: `p${promptIdx}`, bucket: "code", k: 3, band: bandFor("Q8_0", numerics)! },
  );
}

function run(results: PromptResult[], shard: { k: number; n: number } | null): ParityRunResult {
  return {
    format: "rosetta.parity", version: 1, shard, settings: { top: 3 }, manifest: { path: "x", sha256: "a".repeat(64) },
    isa: [{ requested: "avx2", ran: "avx2", status: "ran" }], results, skipped: [], passed: results.every((r) => r.passed),
  };
}

describe("suite", () => {
  it("the frozen suite has five buckets of two, ~200 tokens for the long generative prompts", () => {
    const s = loadSuite(defaultSuitePath());
    expect(s.prompts).toHaveLength(10);
    for (const b of BUCKETS) expect(s.prompts.filter((p) => p.bucket === b)).toHaveLength(2);
    const long = s.prompts.filter((p) => p.bucket === "long-generative");
    expect(long.map((p) => tokensFor(p, s))).toEqual([200, 200]);
    expect(tokensFor(long[0], s, 50)).toBe(50);
    expect(tokensFor(s.prompts[0], s)).toBe(50);
    expect(s.prompts.some((p) => /[\u4e00-\u9fff]/.test(p.text))).toBe(true);
    expect(s.prompts.some((p) => /fn \w+\(/.test(p.text)) && s.prompts.some((p) => /def \w+\(/.test(p.text))).toBe(true);
  });
  it("rejects malformed suites with one clear error", () => {
    expect(() => parseSuite({ format: "x" }, "f")).toThrow(InputError);
    expect(() => parseSuite({ format: "rosetta.parity-suite", version: 1, prompts: [{ id: "a", bucket: "nope", text: "t" }] }, "f")).toThrow(/bucket must be one of/);
    expect(() => parseSuite({ format: "rosetta.parity-suite", version: 1, prompts: [{ id: "a", bucket: "code", text: "t" }] }, "f", true)).toThrow(/two per bucket/);
  });
});

describe("manifest", () => {
  const good = {
    format: "rosetta.parity-manifest", version: 1,
    suite: { path: "parity/suite.json", sha256: "b".repeat(64) },
    reference: { packages: { "node-llama-cpp": "3.22.1" }, llamaCpp: { release: "v0.5.0", commit: "c" }, settings: { threads: 1 } },
    models: [{ name: "s", path: "${SHARED}/models/s.gguf", quant: "F32", sha256: "a".repeat(64), tokenizerSha256: "c".repeat(64), source: "src", licence: "MIT" }],
  };
  it("parses and hashes; refuses missing pins", () => {
    const m = parseManifest(good, "m.json");
    expect(m.rosetta).toEqual({ numerics: ["ggml"], tokens: null, top: 5 });
    expect(m.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(() => parseManifest({ ...good, models: [{ ...good.models[0], sha256: "XYZ" }] }, "m.json")).toThrow(/sha256 must be 64/);
    expect(() => parseManifest({ ...good, models: [{ ...good.models[0], fixture: { arch: "qwen2", type: "F32" } }] }, "m.json")).toThrow(/exactly one of path or fixture/);
    expect(() => parseManifest({ ...good, models: [{ ...good.models[0], licence: "" }] }, "m.json")).toThrow(/licence/);
  });
  it("canonical JSON sorts keys and is stable over typed arrays and bigints", () => {
    expect(canonicalJson({ b: 1, a: [new Int32Array([1, 2]), 3n] })).toBe('{"a":[[1,2],"3"],"b":1}');
    const a = tokenizerSha256({ "tokenizer.ggml.model": "llama", "general.name": "x", "tokenizer.ggml.tokens": ["a", "b"] });
    expect(tokenizerSha256({ "tokenizer.ggml.tokens": ["a", "b"], "tokenizer.ggml.model": "llama", "general.name": "other" })).toBe(a);
    expect(tokenizerSha256({ "tokenizer.ggml.tokens": ["a", "c"], "tokenizer.ggml.model": "llama" })).not.toBe(a);
    expect(() => tokenizerSha256({ "general.name": "x" })).toThrow(/no tokenizer/);
  });
});

describe("shards and merge", () => {
  it("parses K/N and puts every case in exactly one shard", () => {
    expect(parseShard("2/4")).toEqual({ k: 2, n: 4 });
    for (const bad of ["0/2", "3/2", "x", "1/0"]) expect(() => parseShard(bad)).toThrow(InputError);
    const cases = Array.from({ length: 23 }, (_, i) => ({ model: `m${i % 3}`, quant: "F32", promptIdx: i }));
    const seen = new Map<string, number>();
    for (let k = 1; k <= 4; k++) for (const c of selectShard(cases, { k, n: 4 })) seen.set(caseId(c), (seen.get(caseId(c)) ?? 0) + 1);
    expect(seen.size).toBe(23);
    expect([...seen.values()].every((v) => v === 1)).toBe(true);
  });
  it("merges shard results into one verdict; refuses duplicates, foreign manifests and missing shards", () => {
    const a = run([result(0, 0)], { k: 1, n: 2 });
    const b = run([result(1, 2)], { k: 2, n: 2 });
    const m = mergeRuns([a, b]);
    expect(m.results).toHaveLength(2);
    expect(m.passed).toBe(false);
    expect(mergeRuns([a, run([result(1, 0)], { k: 2, n: 2 })]).passed).toBe(true);
    expect(() => mergeRuns([a, a])).toThrow(/appears in both/);
    expect(() => mergeRuns([a, { ...b, manifest: { path: "y", sha256: "f".repeat(64) } }])).toThrow(/different manifest/);
    const partial = mergeRuns([a]);
    expect(partial.passed).toBe(false);
    expect(partial.skipped[0].reason).toMatch(/only 1 of 2 shards/);
  });
  it("JSON keeps NaN as NaN through a round trip", () => {
    const r = run([result(0, 0)], null);
    r.results[0].kl.max = NaN;
    const back = JSON.parse(runToJson(r), (_k, v) => (v === "NaN" ? NaN : v));
    expect(back.results[0].kl.max).toBeNaN();
  });
});

describe("reporting", () => {
  it("one greppable line per failing position with model, quant, prompt_idx, token_idx, both top-k and the delta", () => {
    const r = result(7, 2);
    expect(r.passed).toBe(false);
    const all = detailLines([r]);
    expect(all.filter((l) => /^PARITY-FAIL .* token_idx=- reason="mean kl .* > band/.test(l))).toHaveLength(1);
    const lines = all.filter((l) => /^PARITY-FAIL .* token_idx=\d/.test(l));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^PARITY-FAIL model=m\.gguf quant=Q8_0 numerics=ggml isa=avx2 prompt_idx=7 token_idx=1 top3_rosetta=\[3:7\.0000,2:5\.0000,0:-1\.0000\] top3_llamacpp=\[2:5\.0000,0:-1\.0000,1:-1\.0000\] delta=8\.000 kl=/);
    expect(summaryTable([r, result(8, 0)])).toMatch(/FAIL[\s\S]*PASS/);
    const xml = junit(run([r], null));
    expect(xml).toMatch(/<testsuite name="parity\.m\.gguf\.Q8_0\.ggml\.avx2" tests="1" failures="1"/);
    expect(xml).toContain("PARITY-FAIL model=m.gguf");
  });
  it("an ISA column that cannot run says so and is never a pass", () => {
    const rr = run([result(0, 0)], null);
    rr.isa.push({ requested: "avx512", ran: null, status: "unavailable on this CPU" });
    expect(isaTable(rr)).toMatch(/PASS kl_max=0 d=0\s+unavailable on this CPU/);
  });
});

describe("gate: the default mode decides, the other is reported side by side", () => {
  it("an ungated failure is a PARITY-UNGATED line, not in the exit code, and not a JUnit failure", () => {
    const rr = run([result(0, 0, "avx2", "ggml"), result(0, 2, "avx2", "exact")], null);
    rr.gate = ["ggml"];
    rr.passed = runPassed(rr);
    expect(rr.passed).toBe(true);
    const lines = detailLines(rr.results, rr);
    expect(lines.some((l) => l.startsWith("PARITY-FAIL"))).toBe(false);
    expect(lines.filter((l) => /^PARITY-UNGATED model=m\.gguf quant=Q8_0 numerics=exact .* token_idx=1 /.test(l))).toHaveLength(1);
    expect(verdictLine(rr)).toBe("parity: 1/1 prompts passed (ggml), 0 near-ties, 0 not run; reported, not gated: exact 0/1 passed");
    expect(junit(rr)).toMatch(/<testsuite name="parity\.m\.gguf\.Q8_0\.exact\.avx2" tests="1" failures="0"[\s\S]*<system-out>reported, not gated/);
    rr.gate = ["ggml", "exact"];
    expect(runPassed(rr)).toBe(false);
    expect(detailLines(rr.results, rr).some((l) => l.startsWith("PARITY-FAIL"))).toBe(true);
    // nothing gated ran: never a pass
    expect(runPassed({ gate: ["ggml"], results: [result(0, 0, "avx2", "exact")], skipped: [] })).toBe(false);
  });
});

describe("parity measure", () => {
  it("takes the largest figures per band and mode, counts deep flips, and flags figures over the band", () => {
    const ok = result(0, 0);
    const flip = result(1, 2, "scalar");
    const rows = measureRows([run([ok, flip, result(2, 0, "avx2", "exact")], null)]);
    expect(rows.map((r) => `${r.band}/${r.numerics}`)).toEqual(["Q8_0/exact", "Q8_0/ggml"]);
    const g = rows.find((r) => r.numerics === "ggml")!;
    expect(g).toMatchObject({ promptRuns: 2, positions: 4, passed: 1, top1Flips: 1, deepFlips: 0, maxTopDelta: 8, isas: ["avx2", "scalar"] });
    expect(overBand(rows).map((r) => r.numerics)).toEqual(["ggml"]);
    expect(measureTable(rows)).toMatch(/Q8_0\s+ggml\s+2\s+4\s+1\/2\s+1 \(0\)\s+0\s+8\.000!/);
  });
});

