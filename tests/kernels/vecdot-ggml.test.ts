/**
 * Kernel-level oracle: for every type rosetta claims llama.cpp-exact, a one-token ggml-mode matmul on
 * every ISA path this CPU runs equals, bit for bit, llama.cpp's own vec_dot (the pinned prebuilt
 * libggml-cpu-haswell.so, dlopened: from_float of the vec_dot type, then vec_dot per row), on random
 * blocks and row lengths with odd block counts (1, 3, 7, 8, 33 blocks) so every kernel's tail runs.
 * The model-level agreement is tests/model/synthetic-parity.test.ts; this localizes a mismatch to one
 * kernel and one row length.
 *
 * VECDOT_VARIANT=zen4 (vecdot-ggml-zen4.test.ts sets it) opens llama.cpp's zen4 library instead, what
 * `auto` loads on an AVX-512 Zen CPU: its quantized vec_dots keep haswell's lanes and float order
 * (VNNI only changes how the exact integer lanes are formed), so rosetta must equal them too; its
 * f32/f16/bf16 dots accumulate in 16 lanes (another order), which ggml mode does not follow.
 */
import { afterAll, describe, expect, test } from "vitest";

import { cpuFeatures, currentIsa, matmul, openGgmlCpuReference, setIsa } from "../../src/bindings/kernels.js";

const VARIANT = process.env.VECDOT_VARIANT === "zen4" ? "zen4" : "haswell";
const opened = openGgmlCpuReference(VARIANT);
if (!opened.ok) console.warn(`vecdot-ggml: skipping the llama.cpp vec_dot oracle tests (${VARIANT}): ${opened.reason}`);
const features = cpuFeatures();
const ALL_ISAS = ["scalar", "avx2", "avx512"] as const;
const ISAS = ALL_ISAS.filter((i) => features.isas.includes(i));
for (const i of ALL_ISAS) if (!features.isas.includes(i)) console.warn(`vecdot-ggml: this CPU cannot run the ${i} path: not exercised here`);
const initialIsa = currentIsa() as (typeof ALL_ISAS)[number];
afterAll(() => void setIsa(initialIsa));

// ggml type id, elements per block, bytes per block, byte offsets of the f16 scales in a block
const TYPES: Record<string, { id: number; block: number; bytes: number; f16At: number[] }> = {
  Q4_0: { id: 2, block: 32, bytes: 18, f16At: [0] },
  Q4_1: { id: 3, block: 32, bytes: 20, f16At: [0, 2] },
  Q5_0: { id: 6, block: 32, bytes: 22, f16At: [0] },
  Q5_1: { id: 7, block: 32, bytes: 24, f16At: [0, 2] },
  Q8_0: { id: 8, block: 32, bytes: 34, f16At: [0] },
  IQ4_NL: { id: 20, block: 32, bytes: 18, f16At: [0] },
  Q2_K: { id: 10, block: 256, bytes: 84, f16At: [80, 82] },
  Q3_K: { id: 11, block: 256, bytes: 110, f16At: [108] },
  Q4_K: { id: 12, block: 256, bytes: 144, f16At: [0, 2] },
  Q5_K: { id: 13, block: 256, bytes: 176, f16At: [0, 2] },
  Q6_K: { id: 14, block: 256, bytes: 210, f16At: [208] },
  IQ4_XS: { id: 23, block: 256, bytes: 136, f16At: [0] },
  F16: { id: 1, block: 1, bytes: 2, f16At: [] },
  BF16: { id: 30, block: 1, bytes: 2, f16At: [] },
  F32: { id: 0, block: 1, bytes: 4, f16At: [] },
};
const BLOCK_COUNTS = [1, 3, 7, 8, 33];
// Element types: the counts above as 32-blocks, plus lengths that leave every vector tail (ggml's
// f32/f16/bf16 dots take any n; rosetta's activations need none rounded to a block).
const ELEMENT_LENGTHS = [...BLOCK_COUNTS.map((b) => 32 * b), 1, 5, 13, 40, 100, 1000];
const ROWS = 16;

function rng(seed: number) {
  let s = seed >>> 0;
  return () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
}

/** Random stored rows: random bytes, finite modest scales (and finite elements for F16/BF16/F32). */
function weights(name: string, nIn: number, seed: number): Uint8Array {
  const l = TYPES[name], r = rng(seed);
  const out = new Uint8Array(((ROWS * nIn) / l.block) * l.bytes);
  for (let i = 0; i < out.length; i++) out[i] = Math.floor(r() * 256);
  const dv = new DataView(out.buffer);
  const nBlocks = out.length / l.bytes;
  const sign = () => (r() < 0.5 ? 0x8000 : 0);
  for (let b = 0; b < nBlocks; b++) for (const at of l.f16At) dv.setUint16(b * l.bytes + at, 0x1c00 + Math.floor(r() * 0x800) + sign(), true);
  if (name === "F16") for (let i = 0; i < nBlocks; i++) dv.setUint16(2 * i, 0x3000 + Math.floor(r() * 0x1000) + sign(), true);
  if (name === "BF16") for (let i = 0; i < nBlocks; i++) dv.setUint16(2 * i, 0x3e00 + Math.floor(r() * 0x200) + sign(), true);
  if (name === "F32") for (let i = 0; i < nBlocks; i++) dv.setFloat32(4 * i, (r() - 0.5) * (r() < 0.05 ? 30 : 2), true);
  return out;
}

/** Random activations with outliers; draw 3 also zeroes the first 32 (a Q8 block with d = 0). */
function activations(n: number, seed: number, draw: number): Float32Array {
  const r = rng(seed);
  const x = Float32Array.from({ length: n }, () => (r() - 0.5) * (r() < 0.05 ? 40 : 2));
  if (draw === 3) x.fill(0, 0, Math.min(n, 32));
  return x;
}

function hex(v: number): string {
  const b = new DataView(new ArrayBuffer(4));
  b.setFloat32(0, v);
  return "0x" + b.getUint32(0).toString(16).padStart(8, "0");
}

/** "" when identical, else the first differing row with both values. */
function firstDiff(ours: Float32Array, theirs: Float32Array): string {
  const a = new Uint32Array(ours.buffer), b = new Uint32Array(theirs.buffer);
  for (let i = 0; i < a.length; i++)
    if (a[i] !== b[i]) return `row ${i}: rosetta ${ours[i]} (${hex(ours[i])}) vs ggml ${theirs[i]} (${hex(theirs[i])})`;
  return "";
}

/** The types whose vec_dot has haswell's float order in the loaded library (zen4: the quantized ones). */
const SAME_ORDER = Object.keys(TYPES).filter((n) => VARIANT === "haswell" || TYPES[n].block > 1);

describe.skipIf(!opened.ok)(`rosetta's one-token ggml matmul vs llama.cpp's vec_dot (${VARIANT} library)`, () => {
  for (const name of SAME_ORDER)
    test(name, () => {
      if (!opened.ok) return;
      const { id, block } = TYPES[name];
      const lengths = block === 1 ? ELEMENT_LENGTHS : BLOCK_COUNTS.map((b) => b * block);
      const failures: string[] = [];
      for (const nIn of lengths) {
        // several draws per length: a single one can hide an order difference under equal roundings
        for (let draw = 0; draw < 4; draw++) {
          const seed = id * 7919 + nIn * 31 + draw;
          const w = weights(name, nIn, seed);
          const x = activations(nIn, seed + 1, draw);
          const want = opened.ref.vecDot(w, id, nIn, ROWS, x);
          for (const isa of ISAS) {
            setIsa(isa);
            const got = new Float32Array(ROWS);
            matmul({ source: w, offset: 0, type: id, nOut: ROWS, nIn, x, y: got, nTok: 1, mode: "ggml" });
            const d = firstDiff(got, want);
            if (d) failures.push(`${name} n=${nIn} (${nIn / block} blocks) draw ${draw} ${isa}: ${d}`);
          }
        }
      }
      expect(failures.slice(0, 8).join("\n")).toBe("");
    });
});

// The same comparison through each path's single vec_dot (rows strided by a padding, as APR's per-row
// padded K-quants are: the general path calls vec_dot per row and token): on the AVX-512 path the K-quant
// decode rows read the token's plain Q8_K row here, its packed Q8KDecode in the one-token matmul above.
const K_QUANTS = SAME_ORDER.filter((n) => ["Q4_K", "Q5_K", "Q6_K"].includes(n));
describe.skipIf(!opened.ok)(`rosetta's single vec_dot (strided rows) vs llama.cpp's vec_dot (${VARIANT} library)`, () => {
  for (const name of K_QUANTS)
    test(name, () => {
      if (!opened.ok) return;
      const { id, block, bytes } = TYPES[name];
      const failures: string[] = [];
      for (const nIn of BLOCK_COUNTS.map((b) => b * block))
        for (let draw = 0; draw < 4; draw++) {
          const seed = id * 7919 + nIn * 31 + draw + 5000;
          const w = weights(name, nIn, seed);
          const x = activations(nIn, seed + 1, draw);
          const want = opened.ref.vecDot(w, id, nIn, ROWS, x);
          const rb = (nIn / block) * bytes, stride = rb + 64;
          const strided = new Uint8Array(stride * ROWS);
          for (let r = 0; r < ROWS; r++) strided.set(w.subarray(r * rb, (r + 1) * rb), r * stride);
          for (const isa of ISAS) {
            setIsa(isa);
            const got = new Float32Array(ROWS);
            matmul({ source: strided, offset: 0, type: id, nOut: ROWS, nIn, x, y: got, nTok: 1, mode: "ggml", rowBytes: stride });
            const d = firstDiff(got, want);
            if (d) failures.push(`${name} n=${nIn} draw ${draw} ${isa}: ${d}`);
          }
        }
      expect(failures.slice(0, 8).join("\n")).toBe("");
    });
});

// llamafile's tinyBLAS takes no prompt of these types on x86 (sgemm.cpp: F32, F16, BF16, Q8_0, Q4_0, Q5_0,
// IQ4_NL only), so llama.cpp multiplies a prompt with vec_dot per (row, token): rosetta's multi-token
// tiles (vecdot_tile_*avx2.cpp, the AVX-512 quads) must give each token exactly that. 21 tokens: two
// full tiles of 8 and a partial one of 5; on the AVX-512 path a pass of 16 tokens and a partial one of 5.
// IQ4_XS on 12 rows: on a multiple of 8 rows a prompt of >= 8 tokens takes llama.cpp's IQ panel order
// instead (iq_panel_order; ggml's panel kernels are not exported, so that order is checked against
// llama.cpp's own graph: tests/parity/models.test.ts, every weight type), tested below.
describe.skipIf(!opened.ok)("rosetta's prompt ggml matmul vs llama.cpp's vec_dot per token (no tinyBLAS)", () => {
  const NTOK = 21;
  for (const name of ["Q4_1", "Q5_1", "Q2_K", "Q3_K", "Q4_K", "Q5_K", "Q6_K", "IQ4_XS"])
    test(name, () => {
      if (!opened.ok) return;
      const { id, block } = TYPES[name];
      const rows = name === "IQ4_XS" ? 12 : ROWS;
      const failures: string[] = [];
      for (const blocks of [3, 8, 11]) {  // 8 and 11: the AVX-512 K-quant tiles in K blocks of 4 superblocks (4 + 4, 4 + 4 + 3)
        const nIn = blocks * block, seed = id * 131 + blocks;
        const w = weights(name, nIn, seed);
        const x = activations(NTOK * nIn, seed + 1, 3);
        const want = Array.from({ length: NTOK }, (_, t) => opened.ref.vecDot(w, id, nIn, rows, x.subarray(t * nIn, (t + 1) * nIn)));
        for (const isa of ISAS) {
          setIsa(isa);
          const got = new Float32Array(NTOK * rows);
          matmul({ source: w, offset: 0, type: id, nOut: rows, nIn, x, y: got, nTok: NTOK, mode: "ggml" });
          for (let t = 0; t < NTOK; t++) {
            const d = firstDiff(got.slice(t * rows, (t + 1) * rows), want[t]);
            if (d) failures.push(`${name} n=${nIn} token ${t} ${isa}: ${d}`);
          }
        }
      }
      expect(failures.slice(0, 8).join("\n")).toBe("");
    });
});

// IQ4_XS under the panel rule (>= 8 tokens, rows a multiple of 8, rows of 256k): one accumulator per
// output, so its results are not vec_dot's (whose 8 lanes round separately), are the same on every ISA
// path, and at 7 tokens (under the rule's batch) are vec_dot's again.
describe.skipIf(!opened.ok)("IQ4_XS prompts in llama.cpp's IQ panel order", () => {
  test("16 rows x 21 tokens: not vec_dot's order, identical across ISA paths; 7 tokens: vec_dot's", () => {
    if (!opened.ok) return;
    const { id, block } = TYPES.IQ4_XS;
    const nIn = 8 * block, w = weights("IQ4_XS", nIn, 77), x = activations(21 * nIn, 78, 3);
    const vd = Array.from({ length: 21 }, (_, t) => opened.ref.vecDot(w, id, nIn, ROWS, x.subarray(t * nIn, (t + 1) * nIn)));
    const outs = ISAS.map((isa) => {
      setIsa(isa);
      const y = new Float32Array(21 * ROWS);
      matmul({ source: w, offset: 0, type: id, nOut: ROWS, nIn, x, y, nTok: 21, mode: "ggml" });
      const y7 = new Float32Array(7 * ROWS);
      matmul({ source: w, offset: 0, type: id, nOut: ROWS, nIn, x: x.subarray(0, 7 * nIn), y: y7, nTok: 7, mode: "ggml" });
      return { y, y7 };
    });
    for (const o of outs.slice(1)) expect(firstDiff(o.y, outs[0].y)).toBe("");
    let differ = 0;
    for (let t = 0; t < 21; t++) for (let r = 0; r < ROWS; r++) if (outs[0].y[t * ROWS + r] !== vd[t][r]) differ++;
    expect(differ).toBeGreaterThan(0);
    for (const o of outs) for (let t = 0; t < 7; t++) expect(firstDiff(o.y7.slice(t * ROWS, (t + 1) * ROWS), vd[t])).toBe("");
  });
});

// Random shapes around the panel rule's edges (tokens 1-20, rows 5/8/12/16, 1-4 superblocks; seeds logged):
// outside the rule every token equals ggml's vec_dot; inside it every ISA path equals the scalar one.
describe.skipIf(!opened.ok)("IQ4_XS on random shapes around the panel rule (seeds logged)", () => {
  test("vec_dot's order outside the rule, one order on every path inside it", () => {
    if (!opened.ok) return;
    const { id, block } = TYPES.IQ4_XS;
    const base = Number(process.env.ROSETTA_PROPERTY_SEED ?? Date.now() % 100000);
    console.log(`IQ4_XS panel-rule shapes: seeds ${base}..${base + 29} (ROSETTA_PROPERTY_SEED=${base} reruns them)`);
    const failures: string[] = [];
    let inside = 0;
    for (let seed = base; seed < base + 30; seed++) {
      const r = rng(Math.imul(seed, 2654435761) ^ 0x9e3779b9);  // small seeds mixed (the LCG's first draws follow them)
      const nTok = 1 + Math.floor(r() * 20), rows = [5, 8, 12, 16][Math.floor(r() * 4)], nIn = block * (1 + Math.floor(r() * 4));
      const w = weights("IQ4_XS", nIn, seed), x = activations(nTok * nIn, seed + 7, Math.floor(r() * 4));
      const panel = nTok >= 8 && rows % 8 === 0;
      if (panel) inside++;
      const outs = ISAS.map((isa) => {
        setIsa(isa);
        const y = new Float32Array(nTok * rows);
        matmul({ source: w, offset: 0, type: id, nOut: rows, nIn, x, y, nTok, mode: "ggml" });
        return y;
      });
      const tag = `seed ${seed}: ${nTok} tokens x ${rows} rows x ${nIn}`;
      if (panel) {
        outs.forEach((y, i) => {
          const d = firstDiff(y, outs[0]);
          if (d) failures.push(`${tag} ${ISAS[i]} vs scalar: ${d}`);
        });
      } else {
        for (let t = 0; t < nTok; t++) {
          const want = opened.ref.vecDot(w, id, nIn, rows, x.subarray(t * nIn, (t + 1) * nIn));
          outs.forEach((y, i) => {
            const d = firstDiff(y.slice(t * rows, (t + 1) * rows), want);
            if (d) failures.push(`${tag} token ${t} ${ISAS[i]}: ${d}`);
          });
        }
      }
    }
    console.log(`IQ4_XS panel-rule shapes: ${inside} of 30 inside the rule`);
    expect(failures.slice(0, 8).join("\n")).toBe("");
  });
});

describe.skipIf(!opened.ok)("the oracle tells float orders apart", () => {
  // IQ4_NL's prompt order (tinyBLAS: one accumulator) differs from its vec_dot (two, plus a scalar tail);
  // the oracle must see that, or agreement above would prove nothing.
  test("IQ4_NL: rosetta's prompt order is not ggml's one-token order", () => {
    if (!opened.ok) return;
    let differ = 0, total = 0;
    const per: string[] = [];
    for (const blocks of BLOCK_COUNTS) {
      const before = differ;
      const nIn = 32 * blocks, w = weights("IQ4_NL", nIn, 5 + blocks);
      const x1 = activations(nIn, 9 + blocks, 0);
      const want = opened.ref.vecDot(w, 20, nIn, ROWS, x1);
      const x2 = new Float32Array(2 * nIn);
      x2.set(x1);
      x2.set(x1, nIn);
      const y = new Float32Array(2 * ROWS);
      matmul({ source: w, offset: 0, type: 20, nOut: ROWS, nIn, x: x2, y, nTok: 2, mode: "ggml" });
      const u = new Uint32Array(y.buffer, 0, ROWS), v = new Uint32Array(want.buffer);
      for (let i = 0; i < ROWS; i++) differ += u[i] !== v[i] ? 1 : 0;
      total += ROWS;
      per.push(`${blocks} blocks: ${differ - before}/${ROWS}`);
    }
    if (process.env.VECDOT_PRINT) console.log(`IQ4_NL prompt order vs ggml vec_dot: ${differ} of ${total} outputs differ (${per.join(", ")})`);
    expect(differ).toBeGreaterThan(0);
  });
});

// Not against the oracle (llama.cpp's prompt runs tinyBLAS, whose agreement is in synthetic-parity), but
// the batch side of the same dispatch: IQ4_NL's tile picks its order by batch size on every path.
test("IQ4_NL prompts: every ISA path gives the scalar reference's floats (odd rows and batches)", () => {
  for (const [nOut, blocks, nTok] of [[7, 3, 2], [16, 1, 3], [5, 8, 9], [16, 33, 2]]) {
    const nIn = 32 * blocks, w = weights("IQ4_NL", nIn, 77 + nTok).subarray(0, (nOut * nIn / 32) * 18);
    const x = activations(nTok * nIn, 3 + nOut, 0);
    const run = (isa: (typeof ALL_ISAS)[number]) => {
      setIsa(isa);
      const y = new Float32Array(nTok * nOut);
      matmul({ source: w, offset: 0, type: 20, nOut, nIn, x, y, nTok, mode: "ggml" });
      return y;
    };
    const ref = run("scalar");
    for (const isa of ISAS) expect(firstDiff(run(isa), ref), `${isa} ${nOut}x${nIn} t${nTok}`).toBe("");
  }
});
