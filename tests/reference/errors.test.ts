/**
 * Bad input through the llama.cpp engine: a model llama.cpp refuses surfaces llama.cpp's own message as
 * an InputError (exit 2); bad flags and token ids are InputErrors. (A missing bridge:
 * tests/bindings/llama.test.ts.)
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync } from "node:fs";
import os from "node:os";
import path from "node:path";

import { describe, expect, it } from "vitest";

import { parseTensorFilter, parseTokenList, traceHandler, type TraceArgs } from "../../src/cli/commands/TraceCommand.js";
import { InputError } from "../../src/util/errors.js";
import { getFixture } from "../fixtures/lib/index.js";
import { BAD_ROW172, BAD_V1, HAVE_SHARED, REPO_ROOT } from "../helpers/shared.js";
import { tryBridge } from "../helpers/bridge.js";

const bridge = tryBridge("default");
// A real output folder: the trace command checks --out before running, and these runs fail before writing.
const outDir = mkdtempSync(path.join(os.tmpdir(), "rosetta-errors-"));
const args = (o: Partial<TraceArgs>): TraceArgs =>
  ({ model: "", engine: "llama.cpp", gen: 0, top: 5, threads: 1, backend: "default", repack: true, out: path.join(outDir, "x"), ...o }) as TraceArgs;

describe("trace flags", () => {
  it("parses token lists and tensor filters", () => {
    expect(parseTokenList("1, 2 3,4")).toEqual([1, 2, 3, 4]);
    expect(() => parseTokenList("1,x")).toThrow(InputError);
    expect(() => parseTokenList(" ")).toThrow(InputError);
    expect(parseTensorFilter(undefined)).toEqual([]);
    expect(parseTensorFilter("")).toEqual(["*"]);
    expect(parseTensorFilter("blk.0.*, logits")).toEqual(["blk.0.*", "logits"]);
  });
  it("rejects a missing or double input and unknown engines", async () => {
    await expect(traceHandler(args({ model: "m" }))).rejects.toThrow(/exactly one of --prompt or --tokens/);
    await expect(traceHandler(args({ model: "m", prompt: "a", tokens: "1" }))).rejects.toThrow(InputError);
    await expect(traceHandler(args({ model: "m", engine: "nope", tokens: "1" }))).rejects.toThrow(/unknown engine/);
  });
});

describe.skipIf(!bridge)("llama.cpp refuses bad input", () => {
  it.skipIf(!HAVE_SHARED)("a Q8_0 tensor with 172-element rows: llama.cpp's own message, InputError", async () => {
    const e = await traceHandler(args({ model: BAD_ROW172, tokens: "1,2" })).catch((x) => x);
    expect(e).toBeInstanceOf(InputError);
    expect(e.exitCode).toBe(2);
    expect(e.message).toMatch(/blk\.0\.ffn_down\.weight.*172 elements per row, not a multiple of block size \(32\)/);
    expect(e.message).not.toContain("\n");
  });
  it.skipIf(!HAVE_SHARED)("a GGUF v1 file", async () => {
    const e = await traceHandler(args({ model: BAD_V1, tokens: "1" })).catch((x) => x);
    expect(e).toBeInstanceOf(InputError);
    expect(e.message).toMatch(/GGUFv1 is no longer supported/);
  });
  it("a missing file, out-of-vocabulary token ids", async () => {
    await expect(traceHandler(args({ model: "/nonexistent.gguf", tokens: "1" }))).rejects.toThrow(/cannot open model file/);
    const m = await getFixture("llama", "F32");
    await expect(traceHandler(args({ model: m, tokens: "1,512" }))).rejects.toThrow(/token id 512 is outside the vocabulary \(0\.\.511\)/);
    await expect(bridge!.quantize(m, "/nonexistent/dir/x.gguf", "Q4_0")).rejects.toThrow(InputError);
    await expect(bridge!.quantize(m, "/tmp/x.gguf", "Q9_9")).rejects.toThrow(/unknown quantization type 'Q9_9'/);
  });
  it("an unknown or unrunnable backend variant is refused before anything loads", () => {
    // The variant check runs in the native init, once per process: use a fresh one.
    const r = spawnSync(process.execPath, ["-e", `
      const b = require(${JSON.stringify(path.join(REPO_ROOT, process.env.ROSETTA_BUILD_DIR ?? "build", "Release/rosetta_llama.node"))});
      try { b.init({ binsDir: b.info().binsDir, backend: "pentium" }); } catch (e) { console.log(e.code + ": " + e.message); }`], { encoding: "utf8" });
    expect(r.stdout).toMatch(/LLAMA_INPUT: no CPU backend variant 'pentium'/);
  });
});
