/**
 * Every dequantizer, on every ISA path this CPU runs, equals llama.cpp's own to_float (prebuilt
 * libggml-base.so, dlopened) bit for bit: on random blocks and on the real tensors of the shared models.
 */
import { gguf } from "@huggingface/gguf";
import { afterAll, describe, expect, it } from "vitest";

import { openGgmlReference, randomBlocks } from "../../bench/kernels-data.js";
import { loadKernelsAddon } from "../../src/bindings/kernels-addon.js";
import { HAVE_SHARED, STORIES, TINYLLAMA } from "../helpers/shared.js";
import { rng } from "../helpers/rng.js";

const addon = loadKernelsAddon();
const ref = openGgmlReference(addon);
if (!ref.ok) process.stderr.write(`[kernels] skipping ggml bit-exactness tests: ${ref.reason}\n`);
const features = addon.cpuFeatures();
const ALL_ISAS = ["scalar", "avx2", "avx512"] as const;
const ISAS = ALL_ISAS.filter((i) => features.isas.includes(i));
for (const i of ALL_ISAS) {
  if (!features.isas.includes(i)) process.stderr.write(`[kernels] this CPU cannot run the ${i} path: its tests are skipped\n`);
}
const initialIsa = addon.isa();
afterAll(() => {
  addon.setIsa(initialIsa);
});

const supported = addon.typeTraits().filter((t) => t.supported && t.id < 128);
const GGML_TYPES = ["f32", "f16", "bf16", "q4_0", "q4_1", "q5_0", "q5_1", "q8_0", "q2_K", "q3_K", "q4_K", "q5_K", "q6_K", "q8_K", "iq4_nl", "iq4_xs"];

/** First index where the bit patterns differ, or -1. */
function firstBitDiff(a: Float32Array, b: Float32Array): number {
  const ua = new Uint32Array(a.buffer, a.byteOffset, a.length);
  const ub = new Uint32Array(b.buffer, b.byteOffset, b.length);
  for (let i = 0; i < ua.length; i++) if (ua[i] !== ub[i]) return i;
  return -1;
}

function expectSameBits(ours: Float32Array, theirs: Float32Array, what: string): void {
  const i = firstBitDiff(ours, theirs);
  const msg = i < 0 ? "" : `${what}: element ${i}: rosetta ${ours[i]} (0x${new Uint32Array(ours.buffer)[i].toString(16)}) vs ggml ${theirs[i]}`;
  expect(msg).toBe("");
}

/** ggml's output; F32 has no to_float in ggml, so its reference is the bytes themselves. */
function ggmlToFloat(src: Uint8Array | object, offset: number, bytes: number, type: number, n: number): Float32Array {
  const out = new Float32Array(n);
  if (type === 0) {
    const b = src instanceof Uint8Array ? src : addon.mappingBytes(src as never, offset, bytes);
    new Uint8Array(out.buffer).set(src instanceof Uint8Array ? b.subarray(offset, offset + bytes) : b);
  } else {
    addon.ggmlRefToFloat(src as Uint8Array, offset, bytes, type, n, out);
  }
  return out;
}

describe("traits table", () => {
  it("lists every supported GGML type with ggml's geometry", () => {
    expect(supported.map((t) => t.name).sort()).toEqual([...GGML_TYPES].sort());
    if (!ref.ok) return;
    for (const t of supported) {
      const g = addon.ggmlRefTraits(t.id);
      expect({ name: t.name, bs: t.blockSize, ts: t.typeSize }).toEqual({ name: g.name, bs: g.blockSize, ts: g.typeSize });
    }
  });
});

describe.skipIf(!ref.ok)("dequantize == ggml to_float, random blocks", () => {
  for (const isa of ALL_ISAS) {
    it.skipIf(!ISAS.includes(isa))(`${isa}: every supported type, 1..300 blocks, odd source offsets`, () => {
      addon.setIsa(isa);
      expect(addon.isa()).toBe(isa);
      const r = rng(1234);
      for (const t of supported) {
        for (const nBlocks of [1, 3, 37, 300]) {
          const n = nBlocks * t.blockSize;
          const bytes = n / t.blockSize * t.typeSize;
          // shift inside a larger buffer: exercises the source offset (and the unaligned copy path)
          for (const shift of [0, 1, 6]) {
            const buf = new Uint8Array(bytes + shift);
            buf.set(randomBlocks(t.name, t.typeSize, nBlocks, r), shift);
            const ours = new Float32Array(n);
            addon.dequantize(buf, shift, bytes, t.id, n, ours);
            expectSameBits(ours, ggmlToFloat(buf, shift, bytes, t.id, n), `${isa} ${t.name} x${nBlocks} +${shift}`);
          }
        }
      }
    });
  }

  it("f16 and bf16: all 65536 bit patterns (NaN payloads, Inf, subnormals) on every path", () => {
    const all = new Uint16Array(65536).map((_, i) => i);
    const bytes = new Uint8Array(all.buffer);
    for (const name of ["f16", "bf16"]) {
      const id = supported.find((t) => t.name === name)!.id;
      const theirs = ggmlToFloat(bytes, 0, bytes.length, id, 65536);
      for (const isa of ISAS) {
        addon.setIsa(isa);
        const ours = new Float32Array(65536);
        addon.dequantize(bytes, 0, bytes.length, id, 65536, ours);
        expectSameBits(ours, theirs, `${isa} ${name}`);
      }
    }
  });
});

describe.skipIf(!ref.ok || !HAVE_SHARED)("dequantize == ggml to_float, real model tensors", () => {
  for (const file of [STORIES, TINYLLAMA]) {
    it(`every tensor of ${file.split("/").pop()} on every path`, async () => {
      const { tensorInfos, tensorDataOffset } = await gguf(file, { allowLocalFile: true });
      const m = new addon.Mapping(file);
      try {
        let checked = 0;
        for (const ti of tensorInfos) {
          const t = addon.typeTraits().find((x) => x.id === ti.dtype)!;
          const n = ti.shape.reduce((a, b) => a * Number(b), 1);
          const offset = Number(tensorDataOffset + ti.offset);
          const bytes = (n / t.blockSize) * t.typeSize;
          const theirs = ggmlToFloat(m, offset, bytes, ti.dtype, n);
          for (const isa of ISAS) {
            addon.setIsa(isa);
            const ours = new Float32Array(n);
            addon.dequantize(m, offset, bytes, ti.dtype, n, ours);
            expectSameBits(ours, theirs, `${isa} ${ti.name} (${t.name})`);
          }
          checked++;
        }
        expect(checked).toBe(tensorInfos.length);
      } finally {
        m.close();
      }
    });
  }
});

describe("apr_q4 (rosetta-private, no ggml counterpart)", () => {
  it("decodes interleaved nibbles; all paths agree with a plain TS decode", () => {
    const t = addon.typeTraits().find((x) => x.name === "apr_q4")!;
    const r = rng(77);
    const nBlocks = 41;
    const buf = randomBlocks("apr_q4", t.typeSize, nBlocks, r);
    const expected = new Float32Array(nBlocks * 32);
    const dv = new DataView(buf.buffer);
    for (let b = 0; b < nBlocks; b++) {
      const d = halfToFloat(dv.getUint16(b * 18, true));
      for (let i = 0; i < 32; i++) {
        const byte = buf[b * 18 + 2 + (i >> 1)];
        const q = (i & 1 ? byte >> 4 : byte & 15) - 8;
        expected[b * 32 + i] = Math.fround(q * d);
      }
    }
    for (const isa of ISAS) {
      addon.setIsa(isa);
      const ours = new Float32Array(nBlocks * 32);
      addon.dequantize(buf, 0, buf.length, t.id, nBlocks * 32, ours);
      expectSameBits(ours, expected, `${isa} apr_q4`);
    }
  });
});

function halfToFloat(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const f = h & 0x3ff;
  if (e === 0) return s * f * 2 ** -24;
  if (e === 31) return f ? NaN : s * Infinity;
  return s * (1 + f / 1024) * 2 ** (e - 15);
}
