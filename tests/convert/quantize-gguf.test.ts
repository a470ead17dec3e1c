/**
 * Quantized outputs from the CLI (issue 17 item 8): `rosetta convert in.gguf out.gguf --quantize TYPE`
 * writes GGUF in a llama.cpp type through the npm-shipped quantizer (tensor for tensor what
 * llama_model_quantize writes from the same F32 weights), the type list matches the bridge's, bad
 * combinations are one line (exit 2), and a conversion that widens a type says so in one warning line.
 */
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";

import { afterAll, describe, expect, it } from "vitest";

import { LLAMA_FTYPES } from "../../src/bindings/llama.js";
import { readGgufIr } from "../../src/convert/ir.js";
import { tryBridge } from "../helpers/bridge.js";
import { runCli } from "../helpers/cli.js";
import { HAVE_SHARED, STORIES, TINYLLAMA } from "../helpers/shared.js";

const dir = mkdtempSync(path.join(os.tmpdir(), "rosetta-qgguf-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const bridge = tryBridge("default");

describe.skipIf(!HAVE_SHARED || !bridge)("convert --quantize to GGUF", () => {
  it("LLAMA_FTYPES is the bridge's own list", async () => {
    const err = await bridge!.quantize(STORIES, path.join(dir, "x.gguf"), "NOPE").then(() => null, (e: Error) => e);
    const listed = /\(([^)]*)\)\s*$/.exec(err!.message)?.[1] ?? err!.message;
    for (const f of LLAMA_FTYPES) expect(listed, err!.message).toMatch(new RegExp(`\\b${f}\\b`));
    expect(listed.split(/,\s*/).length, err!.message).toBe(LLAMA_FTYPES.length);
  });

  for (const ftype of ["Q8_0", "Q4_K_M"]) {
    it(`${ftype}: tensor for tensor what llama_model_quantize writes from the same weights`, async () => {
      const out = path.join(dir, `stories-${ftype}.gguf`);
      const r = runCli(["convert", STORIES, out, "--quantize", ftype]);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stderr).not.toMatch(/widened/); // F32 in: nothing gets wider
      const ref = path.join(dir, `ref-${ftype}.gguf`);
      await bridge!.quantize(STORIES, ref, ftype); // stories260K is F32 already: the same input weights
      const [a, b] = await Promise.all([readGgufIr(out), readGgufIr(ref)]);
      expect(a.tensors.map((t) => t.name)).toEqual(b.tensors.map((t) => t.name));
      for (let i = 0; i < a.tensors.length; i++) {
        expect(a.tensors[i].type, a.tensors[i].name).toBe(b.tensors[i].type);
        expect(Buffer.compare(Buffer.from(a.tensors[i].data), Buffer.from(b.tensors[i].data)), a.tensors[i].name).toBe(0);
      }
      expect(new Set(a.tensors.map((t) => t.type)).size).toBeGreaterThan(1); // norms stay F32
      // and it runs: rosetta vs llama.cpp on the quantized file
      const cmp = runCli([out, out, "--engine-b", "llama.cpp", "--tokens", "1,403,407", "--no-experiments", "-q"]);
      expect(cmp.code, cmp.stderr).toBe(0);
    });
  }

  it("a wider type than the input is one warning line (Q4_0 in, Q8_0 out)", () => {
    const r = runCli(["convert", TINYLLAMA, path.join(dir, "tiny-q8.gguf"), "--quantize", "Q8_0"]);
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stderr.split("\n").filter((l) => /widened/.test(l));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/widened \d+ tensors: Q4_0 to Q8_0 \(\d+\)/);
  });
});

describe.skipIf(!HAVE_SHARED)("convert says when it widens", () => {
  it("Q4_0 GGUF to APR: the tensors APR cannot hold become F32, said in one line", () => {
    const r = runCli(["convert", TINYLLAMA, path.join(dir, "tiny.apr")]);
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stderr.split("\n").filter((l) => /widened/.test(l));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/widened \d+ tensors: Q4_0 to F32 \(\d+\).*--quantize q4k, q6k, apr-q4 or apr-q8 keeps it small/);
  });
  it("F32 GGUF to APR: nothing widened, nothing said", () => {
    const r = runCli(["convert", STORIES, path.join(dir, "stories.apr")]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).not.toMatch(/widened/);
  });
  it("a type for the wrong output format is one line, exit 2", () => {
    const a = runCli(["convert", STORIES, path.join(dir, "x.apr"), "--quantize", "Q8_0"]);
    expect(a.code).toBe(2);
    expect(a.stderr).toMatch(/--quantize Q8_0: for APR output, expected one of q4k, q6k, apr-q4, apr-q8 \(Q8_0 is a llama.cpp type: write a .gguf\)/);
    const g = runCli(["convert", STORIES, path.join(dir, "x.gguf"), "--quantize", "q4k"]);
    expect(g.code).toBe(2);
    expect(g.stderr).toMatch(/--quantize q4k: for GGUF output, expected a llama.cpp type: F32, F16, BF16, Q4_0/);
    expect(g.stderr).not.toMatch(/llama-quantize/);
  });
});
