/**
 * APR-native quantizers (spec §4.3), as aprender writes them: APR_Q4 (32-element blocks, f16 scale =
 * max|x|/7, interleaved nibbles) and APR_Q8 (one f32 scale = max|x|/127 for the whole tensor). Also the
 * APR_Q8 decoder, which is not a block format and so lives outside the native traits table.
 */
const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** f32 -> IEEE binary16 bits, round to nearest even (the `half` crate's from_f32). */
export function f32ToF16(x: number): number {
  f32[0] = x;
  const b = u32[0];
  const sign = (b >>> 16) & 0x8000;
  const exp = (b >>> 23) & 0xff;
  const man = b & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (man ? 0x200 | (man >>> 13) : 0);
  const e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    const m = man | 0x800000;
    const shift = 14 - e;
    const half = 1 << (shift - 1);
    let r = m >>> shift;
    const rem = m & ((1 << shift) - 1);
    if (rem > half || (rem === half && r & 1)) r++;
    return sign | r;
  }
  let r = (e << 10) | (man >>> 13);
  const rem = man & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && r & 1)) r++;
  return sign | r;
}

export function f16ToF32(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >>> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0) return s * m * 2 ** -24;
  if (e === 31) return m ? NaN : s * Infinity;
  return s * (1 + m / 1024) * 2 ** (e - 15);
}

const roundAway = (v: number) => (v < 0 ? -Math.floor(-v + 0.5) : Math.floor(v + 0.5));

export function quantizeAprQ4(x: Float32Array): Uint8Array {
  const nb = Math.ceil(x.length / 32);
  const out = new Uint8Array(nb * 18);
  for (let b = 0; b < nb; b++) {
    let amax = 0;
    for (let i = b * 32; i < Math.min(x.length, b * 32 + 32); i++) amax = Math.max(amax, Math.abs(x[i]));
    const scale = amax === 0 ? 1 : Math.fround(amax / 7);
    const h = f32ToF16(scale);
    out[b * 18] = h & 0xff;
    out[b * 18 + 1] = h >>> 8;
    for (let j = 0; j < 32; j++) {
      const i = b * 32 + j;
      const v = i < x.length ? x[i] : 0;
      const q = Math.max(-8, Math.min(7, roundAway(Math.fround(v / scale))));
      const nib = q + 8;
      out[b * 18 + 2 + (j >> 1)] |= j & 1 ? nib << 4 : nib;
    }
  }
  return out;
}

export function quantizeAprQ8(x: Float32Array): Uint8Array {
  let amax = 0;
  for (let i = 0; i < x.length; i++) amax = Math.max(amax, Math.abs(x[i]));
  const scale = amax === 0 ? 1 : Math.fround(amax / 127);
  const out = new Uint8Array(4 + x.length);
  new DataView(out.buffer).setFloat32(0, scale, true);
  for (let i = 0; i < x.length; i++) out[4 + i] = Math.max(-127, Math.min(127, roundAway(Math.fround(x[i] / scale)))) & 0xff;
  return out;
}

/** APR_Q8 bytes (f32 scale + n x i8) to f32: each value is one exact f32 product. */
export function dequantizeAprQ8(bytes: Uint8Array, n: number): Float32Array {
  if (bytes.length !== 4 + n) throw new RangeError(`APR_Q8 of ${n} elements needs ${4 + n} bytes, got ${bytes.length}`);
  const scale = new DataView(bytes.buffer, bytes.byteOffset, 4).getFloat32(0, true);
  const q = new Int8Array(bytes.buffer, bytes.byteOffset + 4, n);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = Math.fround(q[i] * scale);
  return out;
}

/** JS APR_Q4 decoder (the native one is in the traits table); used to cross-check it in tests. */
export function dequantizeAprQ4Js(bytes: Uint8Array, n: number): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const b = Math.floor(i / 32) * 18;
    const d = Math.fround(f16ToF32(bytes[b] | (bytes[b + 1] << 8)));
    const byte = bytes[b + 2 + ((i % 32) >> 1)];
    const nib = i & 1 ? byte >> 4 : byte & 15;
    out[i] = Math.fround((nib - 8) * d);
  }
  return out;
}
