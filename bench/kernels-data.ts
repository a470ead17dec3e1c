/**
 * Test and bench data for the kernels: random but valid blocks of every supported type, and where
 * llama.cpp's prebuilt libggml-base.so lives (the bit-exactness reference).
 */
import { existsSync } from "node:fs";
import path from "node:path";

import type { KernelsAddon } from "../src/bindings/kernels-addon.js";
import { repoRoot } from "../src/bindings/paths.js";

/** Byte offsets of the f16 fields (scales/mins) inside one block, per type name. */
const HALF_FIELDS: Record<string, number[]> = {
  q4_0: [0], q4_1: [0, 2], q5_0: [0], q5_1: [0, 2], q8_0: [0], q2_K: [80, 82], q3_K: [108], q4_K: [0, 2],
  q5_K: [0, 2], q6_K: [208], iq4_nl: [0], iq4_xs: [0], apr_q4: [0],
};
/** Byte offsets of f32 fields. */
const FLOAT_FIELDS: Record<string, number[]> = { q8_K: [0] };

/** A finite binary16 bit pattern (random sign, mantissa, exponent; subnormals included). */
export function finiteHalf(r: () => number): number {
  let h = Math.floor(r() * 65536);
  if (((h >> 10) & 0x1f) === 0x1f) h &= ~0x4000;
  return h;
}

/**
 * nBlocks random blocks of a type: random bytes, with every f16/f32 scale field made finite so a NaN in
 * the output means a real difference. Plain f16/bf16/f32 data keeps every bit pattern (NaN, Inf included).
 */
export function randomBlocks(typeName: string, typeSize: number, nBlocks: number, r: () => number): Uint8Array {
  const buf = new Uint8Array(typeSize * nBlocks);
  const dv = new DataView(buf.buffer);
  for (let i = 0; i < buf.length; i++) buf[i] = Math.floor(r() * 256);
  const halves = HALF_FIELDS[typeName] ?? [];
  const floats = FLOAT_FIELDS[typeName] ?? [];
  for (let b = 0; b < nBlocks; b++) {
    for (const off of halves) dv.setUint16(b * typeSize + off, finiteHalf(r), true);
    for (const off of floats) dv.setFloat32(b * typeSize + off, (r() - 0.5) * 2 ** (Math.floor(r() * 40) - 20), true);
  }
  return buf;
}

/** The prebuilt ggml base library of the pinned node-llama-cpp package, or undefined if not installed. */
export function ggmlBasePath(): string | undefined {
  const p = path.join(repoRoot(), "node_modules/@node-llama-cpp/linux-x64/bins/linux-x64/libggml-base.so");
  return existsSync(p) ? p : undefined;
}

/** Opens the ggml reference; returns why not if it cannot. */
export function openGgmlReference(addon: KernelsAddon): { ok: true } | { ok: false; reason: string } {
  const lib = ggmlBasePath();
  if (!lib) return { ok: false, reason: "@node-llama-cpp/linux-x64 is not installed (no libggml-base.so)" };
  try {
    addon.ggmlRefOpen(lib);
    return { ok: true };
  } catch (e) {
    return { ok: false, reason: (e as Error).message };
  }
}
