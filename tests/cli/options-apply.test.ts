/**
 * Nothing silently ignored (issue 17 item 5): options of the other engine are an error (numerics / ISA
 * for llama.cpp, backend / repack for rosetta's engine), --numerics-a/b for a saved-trace side a warning,
 * a --tensors glob that matches no point a warning; a prompt too long for the model is named as the
 * prompt (in tokens), not as "--gen 0"; when llama.cpp refuses a model the reason is llama.cpp's first
 * error, not a warning it logged before it.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";

import { gguf } from "@huggingface/gguf";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { writeGguf, type GgufKv } from "../../src/formats/gguf-writer.js";
import { tryBridge } from "../helpers/bridge.js";
import { runCli, type CliResult } from "../helpers/cli.js";
import { HAVE_SHARED, STORIES } from "../helpers/shared.js";

const dir = mkdtempSync(path.join(os.tmpdir(), "rosetta-options-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let model = "";
beforeAll(async () => {
  const { getFixture } = await import("../fixtures/lib/index.js");
  model = await getFixture("llama", "F32");
});

function userError(r: CliResult, re: RegExp): void {
  expect(r.code, r.stderr).toBe(2);
  expect(r.stderr).not.toMatch(/internal error/);
  expect(r.stderr.trim().split("\n").filter((l) => l.startsWith("rosetta: error"))).toHaveLength(1);
  expect(r.stderr).toMatch(re);
}

describe("options of the other engine are errors", () => {
  it("trace --engine llama.cpp with --numerics or --isa", () => {
    const out = path.join(dir, "t1");
    userError(runCli(["trace", model, "--engine", "llama.cpp", "--tokens", "1,2", "--numerics", "exact", "--out", out]), /--numerics applies to the rosetta engine, not to --engine llama.cpp \(its options: --backend, --repack, --device, --gpu-layers, --conditions\)/);
    userError(runCli(["trace", model, "--engine", "llama.cpp", "--tokens", "1,2", "--isa", "scalar", "--numerics", "ggml", "--out", out]), /--numerics applies to the rosetta engine; --isa applies to the rosetta engine, not to --engine llama.cpp/);
  });
  it("trace --engine rosetta with --backend or --repack", () => {
    const out = path.join(dir, "t2");
    userError(runCli(["trace", model, "--engine", "rosetta", "--tokens", "1,2", "--backend", "skylakex", "--out", out]), /--backend skylakex applies to the llama.cpp engine, not to --engine rosetta \(its options: --numerics, --isa\)/);
    userError(runCli(["trace", model, "--engine", "rosetta", "--tokens", "1,2", "--repack", "--out", out]), /--repack applies to the llama.cpp engine/);
    userError(runCli(["trace", model, "--engine", "rosetta", "--tokens", "1,2", "--dtype", "bfloat16", "--out", out]), /--dtype applies to the transformers engine, not to --engine rosetta/);
  });
  it("rosetta A B --engine-b llama.cpp --numerics-b", () => {
    userError(runCli([model, model, "--tokens", "1,2", "--engine-b", "llama.cpp", "--numerics-b", "exact"]), /--numerics-b applies to rosetta's engine, but side B runs on llama.cpp \(--engine-b llama.cpp\)/);
  });
});

describe("options that change nothing are warnings", () => {
  it("a --tensors glob that matches no capture point (the trace is still written)", () => {
    const out = path.join(dir, "t3");
    const r = runCli(["trace", model, "--engine", "rosetta", "--tokens", "1,2", "--tensors", "blk.99.*,logits", "--out", out]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/--tensors blk\.99\.\* matches no capture point/);
    expect(r.stderr).not.toMatch(/--tensors logits matches/);
    expect(JSON.parse(readFileSync(`${out}.json`, "utf8")).points.length).toBeGreaterThan(0);
  });
  it("--numerics-a for a side that is a saved trace (--engine-a there is already an error)", () => {
    const t = path.join(dir, "t4");
    expect(runCli(["trace", model, "--engine", "rosetta", "--tokens", "1,2", "--out", t, "-q"]).code).toBe(0);
    const json = path.join(dir, "r4.json");
    const r = runCli([`${t}.json`, model, "--numerics-a", "exact", "--tokens", "1,2", "--json", json]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/--numerics-a ignored: side A \(.*t4\.json\) is a saved trace, which is not run again/);
    expect(JSON.parse(readFileSync(json, "utf8")).warnings.join("\n")).toMatch(/--numerics-a ignored/);
  });
});

describe("error texts name the user's input", () => {
  it("a prompt longer than the context is the prompt's fault, in tokens, not '--gen 0'", () => {
    const long = Array.from({ length: 5000 }, () => "7").join(",");
    const r = runCli([model, model, "--tokens", long]);
    userError(r, /the prompt is 5000 tokens, more than .*'s context length \(\d+ tokens\)/);
    expect(r.stderr).not.toMatch(/--gen 0/);
    const g = runCli([model, model, "--tokens", "1,2", "--gen", "100000"]);
    userError(g, /--gen 100000: the prompt's 2 tokens \+ 100000 generated = 100002 tokens exceed/);
  });
});

const bridge = tryBridge("default");
describe.skipIf(!HAVE_SHARED || !bridge)("llama.cpp refuses a model", () => {
  it("shows llama.cpp's first error, not a warning logged before it", async () => {
    // stories260K with a gpt2 tokenizer and no pre-tokenizer (llama.cpp warns "missing pre-tokenizer type")
    // and without blk.0.attn_q.weight (llama.cpp's error "tensor ... not found"); before the fix the warning was shown
    const parsed = await gguf(STORIES, { allowLocalFile: true, typedMetadata: true });
    const md: Record<string, GgufKv> = {};
    for (const [k, v] of Object.entries(parsed.typedMetadata as unknown as Record<string, GgufKv>)) if (!["version", "tensor_count", "kv_count"].includes(k)) md[k] = v;
    md["tokenizer.ggml.model"] = { type: 8, value: "gpt2" };
    md["tokenizer.ggml.merges"] = { type: 9, subType: 8, value: ["a b"] };
    const file = readFileSync(STORIES);
    const tensors = parsed.tensorInfos.filter((t) => t.name !== "blk.0.attn_q.weight").map((t) => {
      const off = Number(parsed.tensorDataOffset + t.offset);
      const n = t.shape.reduce((a, d) => a * Number(d), 1);
      return { name: t.name, type: t.dtype, dims: t.shape.map(Number), data: file.subarray(off, off + n * 4) };
    });
    const f = path.join(dir, "warn-then-error.gguf");
    writeFileSync(f, writeGguf(md, tensors));
    const r = runCli(["trace", f, "--engine", "llama.cpp", "--tokens", "1,2", "--out", path.join(dir, "t5")]);
    userError(r, /llama\.cpp refused .*warn-then-error\.gguf: .*error loading model: .*tensor 'blk\.0\.attn_q\.weight' not found/);
    expect(r.stderr).not.toMatch(/pre-tokenizer/);
  });
});
