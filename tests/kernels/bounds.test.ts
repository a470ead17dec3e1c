/**
 * Bad arguments never reach memory: offsets past the end, overflowing lengths, wrong sizes, unsupported
 * types, closed mappings. Each throws a clear message and the process carries on. Also ISA forcing.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";

import { addonPath, loadKernelsAddon } from "../../src/bindings/kernels-addon.js";
import { attention, dequantize, mappingBytes, openMapping, setIsa, summarize, typeName } from "../../src/bindings/kernels.js";
import { InputError, UnsupportedError } from "../../src/util/errors.js";

const addon = loadKernelsAddon();
const Q4_0 = 2;
const out = new Float32Array(64);
const src = new Uint8Array(36);

describe("dequantize argument checks (native)", () => {
  const cases: [string, () => void, RegExp][] = [
    ["unsupported type by name", () => addon.dequantize(src, 0, 66, 16, 256, new Float32Array(256)), /tensor type iq2_xxs is not supported/],
    ["unknown type id", () => addon.dequantize(src, 0, 18, 77, 32, out), /unknown tensor type id 77/],
    ["retired type id 4", () => addon.dequantize(src, 0, 18, 4, 32, out), /unknown tensor type id 4/],
    ["nElements not a block multiple", () => addon.dequantize(src, 0, 18, Q4_0, 33, out), /not a multiple of the q4_0 block size 32/],
    ["byteLength mismatch", () => addon.dequantize(src, 0, 17, Q4_0, 32, out), /byteLength 17 does not match 32 q4_0 elements \(18 bytes\)/],
    ["offset past the end", () => addon.dequantize(src, 37, 18, Q4_0, 32, out), /outside the source \(36 bytes\)/],
    ["range past the end", () => addon.dequantize(src, 19, 18, Q4_0, 32, out), /outside the source/],
    ["overflowing offset+length", () => addon.dequantize(src, 2 ** 53 - 1, 18, Q4_0, 32, out), /outside the source/],
    ["huge element count", () => addon.dequantize(src, 0, (2 ** 53 - 32) / 32 * 18, Q4_0, 2 ** 53 - 32, out), /does not match|outside/],
    ["negative offset", () => addon.dequantize(src, -1, 18, Q4_0, 32, out), /offset must be a non-negative safe integer/],
    ["fractional count", () => addon.dequantize(src, 0, 18, Q4_0, 32.5, out), /nElements must be a non-negative safe integer/],
    ["NaN length", () => addon.dequantize(src, 0, NaN, Q4_0, 32, out), /byteLength must be a non-negative safe integer \(got NaN\)/],
    ["out too small", () => addon.dequantize(src, 0, 36, Q4_0, 64, new Float32Array(63)), /out has 63 elements/],
    ["outOffset pushes past out", () => addon.dequantize(src, 0, 36, Q4_0, 64, out, 1), /do not fit at outOffset 1/],
    ["out not Float32Array", () => addon.dequantize(src, 0, 18, Q4_0, 32, new Float64Array(32) as never), /out must be a Float32Array/],
    ["src not bytes", () => addon.dequantize({} as never, 0, 18, Q4_0, 32, out), /src must be a Mapping, ArrayBuffer, TypedArray or DataView/],
    ["missing arguments", () => (addon.dequantize as unknown as () => void)(), /must be/],
  ];
  for (const [name, fn, re] of cases) {
    it(name, () => {
      expect(fn).toThrow(re);
    });
  }
  it("the process survives and still works after all of the above", () => {
    const b = new Uint8Array(18);
    b[1] = 0x3c; // d = 1.0
    addon.dequantize(b, 0, 18, Q4_0, 32, out);
    expect(out[0]).toBe(-8);
  });
});

describe("stats/diff argument checks (native)", () => {
  const x = new Float32Array(10);
  it("rejects spans outside the array, zero stride, bad lengths", () => {
    expect(() => addon.stats(x, 0, 11, 1)).toThrow(/exceed the array \(10 elements\)/);
    expect(() => addon.stats(x, 9, 2, 1)).toThrow(/exceed/);
    expect(() => addon.stats(x, 0, 5, 3)).toThrow(/exceed/);
    expect(addon.stats(x, 0, 4, 3).count).toBe(4); // last index 9: inside
    expect(() => addon.stats(x, 1, 2 ** 53 - 1, 2 ** 53 - 1)).toThrow(/exceed/);
    expect(() => addon.stats(x, 0, 2, 0)).toThrow(/stride must be >= 1/);
    expect(() => addon.stats(new Uint8Array(4) as never, 0, 1, 1)).toThrow(/Float32Array/);
    expect(() => addon.diff(x, new Float32Array(9))).toThrow(/lengths differ \(10 vs 9\)/);
    expect(addon.stats(x, 10, 0, 1).count).toBe(0); // empty span anywhere up to the end
  });
});

describe("attention cache stride (native)", () => {
  // 2 tokens, 1 head of 8, cache rows of 8 floats: packed 16 floats, at stride 12 it needs 12 + 8 = 20
  const q = new Float32Array(16), o = new Float32Array(16);
  const call = (k: Float32Array, stride?: number) => addon.opsAttention(q, k, k, o, null, 2, 0, 1, 1, 8, 0.5, 0, stride);
  it("reads the rows where the stride puts them and never past the arrays", () => {
    expect(() => call(new Float32Array(16))).not.toThrow();
    expect(() => call(new Float32Array(19), 12)).toThrow(/attention: k has 19 elements, needs 20/);
    expect(() => call(new Float32Array(20), 12)).not.toThrow();
    expect(() => call(new Float32Array(64), 7)).toThrow(/kvStride is shorter than a cache row/);
    expect(() => call(new Float32Array(64), -1)).toThrow(/kvStride/);
  });
  it("a padded cache gives the packed cache's outputs bit for bit", () => {
    const nCtx = 40, row = 2 * 64, pad = 16;
    const packed = Float32Array.from({ length: nCtx * row }, (_, i) => Math.sin(i * 0.37));
    const padded = new Float32Array(nCtx * (row + pad)).fill(Number.NaN); // the pad is never read
    for (let t = 0; t < nCtx; t++) padded.set(packed.subarray(t * row, (t + 1) * row), t * (row + pad));
    const qq = Float32Array.from({ length: 8 * 4 * 64 }, (_, i) => Math.cos(i * 0.11));
    const run = (k: Float32Array, stride?: number) => {
      const y = new Float32Array(8 * 4 * 64);
      attention({ q: qq, k, v: k, kvStride: stride, out: y, probs: null, nTok: 8, nPast: nCtx - 8, nHead: 4, nHeadKv: 2, headDim: 64, scale: 0.125, mode: "ggml" });
      return y;
    };
    expect(Array.from(run(padded, row + pad))).toEqual(Array.from(run(packed)));
  });
});

describe("TS wrappers map problems to rosetta errors", () => {
  it("unsupported type -> UnsupportedError by name, bad size -> InputError", () => {
    expect(() => dequantize({ source: src, offset: 0, type: 16, nElements: 256 })).toThrow(UnsupportedError);
    expect(() => dequantize({ source: src, offset: 0, type: 16, nElements: 256 })).toThrow("tensor type iq2_xxs is not supported");
    expect(() => dequantize({ source: src, offset: 0, type: Q4_0, nElements: 31 })).toThrow(InputError);
    expect(() => dequantize({ source: src, offset: 20, type: Q4_0, nElements: 32, name: "blk.0.w" })).toThrow(
      "tensor blk.0.w (q4_0, 32 elements) needs bytes [20, 38) but the source has 36",
    );
    expect(typeName(12)).toBe("q4_K");
    expect(typeName(4)).toBe("type#4");
  });

  it("summarize rejects a bad span before calling native code", () => {
    expect(() => summarize(new Float32Array(4), { offset: 1, count: 4 })).toThrow(RangeError);
    expect(() => summarize(new Float32Array(4), { stride: 0 })).toThrow(/stride/);
  });
});

describe("Mapping", () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), "rosetta-kernels-"));
  const file = path.join(dir, "blocks.bin");
  const bytes = new Uint8Array(18 * 4).map((_, i) => (i * 7) & 255);
  writeFileSync(file, bytes);

  it("maps a file, dequantizes from it, serves bounds-checked views that outlive close()", () => {
    const m = openMapping(file);
    expect(m.size).toBe(72);
    const fromMap = dequantize({ source: m, offset: 18, type: Q4_0, nElements: 64 });
    const fromBytes = dequantize({ source: bytes, offset: 18, type: Q4_0, nElements: 64 });
    expect(fromMap).toEqual(fromBytes);
    const view = mappingBytes(m, 4, 10);
    expect([...view]).toEqual([...bytes.subarray(4, 14)]);
    expect(() => mappingBytes(m, 70, 3)).toThrow(InputError);
    expect(() => addon.mappingBytes(m, 2 ** 53 - 1, 2)).toThrow(/outside/);
    m.close();
    expect(m.closed).toBe(true);
    expect(view[0]).toBe(bytes[4]); // still mapped: the view holds a reference
    expect(() => addon.dequantize(m, 0, 18, Q4_0, 32, out)).toThrow(/closed/);
    expect(() => addon.mappingBytes(m, 0, 1)).toThrow(/closed/);
    m.close(); // idempotent
  });

  it("errors name the path and the system error", () => {
    expect(() => openMapping(path.join(dir, "missing.bin"))).toThrow(/cannot open .*missing\.bin: No such file or directory/);
    expect(() => openMapping(dir)).toThrow(/not a regular file/);
    const empty = path.join(dir, "empty.bin");
    writeFileSync(empty, new Uint8Array(0));
    const m = openMapping(empty);
    expect(m.size).toBe(0);
    expect(mappingBytes(m, 0, 0).length).toBe(0);
    m.close();
  });
});

describe("machine limits (kernels/peak.cpp, for bench:engine)", () => {
  it("int8 peak and read bandwidth are positive rates; arguments are checked", () => {
    const before = addon.isa();
    try {
      for (const isa of addon.cpuFeatures().isas.filter((i) => i !== "scalar")) {
        addon.setIsa(isa);
        expect(addon.int8PeakMacs(1, 20)).toBeGreaterThan(1e8);
      }
      addon.setIsa("scalar");
      expect(addon.int8PeakMacs(1, 20)).toBe(0); // no figure for the scalar path
    } finally {
      addon.setIsa(before);
    }
    expect(addon.memoryReadBandwidth(2, 8 << 20, 1)).toBeGreaterThan(1e8);
    expect(() => addon.int8PeakMacs(0, 10)).toThrow(/threads in 1..1024/);
    expect(() => addon.int8PeakMacs(1, -1)).toThrow(/ms in/);
    expect(() => addon.memoryReadBandwidth(1, 8, 1)).toThrow(/bytesPerThread/);
  });
});

describe("ISA selection", () => {
  const feats = addon.cpuFeatures();
  function runWithIsa(env: string | undefined, code: string) {
    return spawnSync(process.execPath, ["-e", code], {
      env: { ...process.env, ROSETTA_ISA: env ?? "" },
      encoding: "utf8",
    });
  }
  const probe = `const a=require(${JSON.stringify(addonPath())}); try { console.log(a.isa()); } catch (e) { console.log("ERR " + e.message); }`;

  it("defaults to the best path; ROSETTA_ISA forces any runnable path", () => {
    expect(runWithIsa(undefined, probe).stdout.trim()).toBe(feats.best);
    for (const isa of feats.isas) expect(runWithIsa(isa, probe).stdout.trim()).toBe(isa);
  });

  it("ROSETTA_ISA naming an unknown or unrunnable path is an error, not a fallback", () => {
    expect(runWithIsa("sse9", probe).stdout).toMatch(/ERR ROSETTA_ISA=sse9 is not an ISA path/);
    if (!feats.isas.includes("avx512")) {
      expect(runWithIsa("avx512", probe).stdout).toMatch(/ERR ROSETTA_ISA=avx512 but this CPU cannot run the avx512 path/);
      const r = runWithIsa("avx512", `const a=require(${JSON.stringify(addonPath())}); try { a.dequantize(new Uint8Array(18),0,18,2,32,new Float32Array(32)); } catch (e) { console.log("ERR " + e.message); }`);
      expect(r.stdout).toMatch(/ERR ROSETTA_ISA=avx512/);
      expect(r.status).toBe(0);
    }
  });

  it("the native setIsa and the validated setIsa switch paths and refuse what the CPU lacks", () => {
    const before = addon.isa();
    try {
      expect(setIsa("scalar")).toBe("scalar");
      expect(addon.isa()).toBe("scalar");
      expect(() => addon.setIsa("mmx")).toThrow(/unknown ISA path 'mmx'/);
      expect(() => setIsa("mmx")).toThrow(InputError);
      if (!feats.isas.includes("avx512")) {
        expect(() => addon.setIsa("avx512")).toThrow(/cannot run the avx512 path/);
        expect(() => setIsa("avx512")).toThrow(UnsupportedError);
        expect(addon.isa()).toBe("scalar");
      }
    } finally {
      addon.setIsa(before);
    }
  });
});
