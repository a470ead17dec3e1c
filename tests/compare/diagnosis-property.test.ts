/**
 * Property-based diagnosis: a generator draws random defects from a grammar (exchange of two tensors,
 * replace with another tensor of any layer, scale, sign, offset, row/head permutation, transpose,
 * block-local corruption, NaN/Inf, each numerics metadata key: rms eps, rope base, rope dims, rope
 * scaling; an architecture relabel) at random layers
 * and roles, on llama, qwen2 and qwen3 fixtures in F32, F16, Q8_0 and Q4_K_M, written as GGUF or APR,
 * and compares each mutant (A) with its clean GGUF (B). For every draw:
 *   - the verdict is DIVERGED (every defect changes the computed function);
 *   - the first divergence is the capture point that consumes the earliest mutated tensor or key;
 *   - the tensors/keys confirmed by experiment (the minimal explaining set) are exactly the mutated ones.
 * And the equivalent pairs raise no alarm: identical copies, and a correct llama -> qwen2 conversion
 * (Q/K rows permuted, zero biases). Seeds are logged; ROSETTA_PROPERTY_SEED and ROSETTA_PROPERTY_DRAWS
 * replay or widen a run.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";

import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { compareForward } from "../../src/compare/align.js";
import { pointOfRole } from "../../src/compare/consumers.js";
import { f16ToF32, f32ToF16 } from "../../src/convert/apr-quant.js";
import { injectDefect, parseDefect } from "../../src/convert/defects.js";
import { f32Bytes, irToGguf, readGgufIr, toF32, type IrTensor, type ModelIr } from "../../src/convert/ir.js";
import { irToApr } from "../../src/convert/to-apr.js";
import { GgufType } from "../../src/formats/gguf-writer.js";
import { roleOfName } from "../../src/formats/roles.js";
import { runComparison } from "../../src/pipeline/run-comparison.js";
import { ARCHS, getFixture, type FixtureArch } from "../fixtures/lib/index.js";
import { rng } from "../helpers/rng.js";

const dir = mkdtempSync(path.join(os.tmpdir(), "rosetta-prop-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const TYPES = ["F32", "F16", "Q8_0", "Q4_K_M"] as const;
type FxType = (typeof TYPES)[number];
const SEED = Number(process.env.ROSETTA_PROPERTY_SEED ?? 20261204);
const DRAWS = Number(process.env.ROSETTA_PROPERTY_DRAWS ?? 24); // per (arch, type): 3 x 4 x 24 = 288 draws
const TOKENS = [1, 17, 42, 9, 23, 5];

const base: Partial<Record<string, string>> = {};
beforeAll(async () => {
  for (const a of ARCHS) for (const t of TYPES) base[`${a}-${t}`] = await getFixture(a, t);
}, 600_000);

let n = 0;
async function write(ir: ModelIr, format: "gguf" | "apr"): Promise<string> {
  const file = path.join(dir, `m${n++}.${format}`);
  writeFileSync(file, format === "apr" ? await irToApr(ir) : irToGguf(ir));
  return file;
}

function keyOf(t: IrTensor): string | null {
  const r = roleOfName(t.name);
  if (!r) return null;
  return r.layer === null ? r.role : `blk.${r.layer}.${r.role}`;
}

const F16 = 1, F32T = 0, Q8_0 = 8;

/** Element-wise map of a float tensor (F32 / F16), or of Q8_0's block scales (a uniform map only for scale/sign). */
function mapValues(t: IrTensor, f: (x: number) => number): boolean {
  if (t.type === F32T) {
    t.data = f32Bytes(toF32(t).map(f));
    return true;
  }
  if (t.type === F16) {
    const v = new DataView(t.data.buffer, t.data.byteOffset, t.data.byteLength);
    const out = new Uint8Array(t.data.length);
    const o = new DataView(out.buffer);
    for (let i = 0; i < t.data.length; i += 2) o.setUint16(i, f32ToF16(f(f16ToF32(v.getUint16(i, true)))), true);
    t.data = out;
    return true;
  }
  return false;
}

function scaleQ8(t: IrTensor, alpha: number): boolean {
  if (t.type !== Q8_0) return false;
  const out = new Uint8Array(t.data);
  const v = new DataView(out.buffer);
  for (let b = 0; b < out.length; b += 34) v.setUint16(b, f32ToF16(f16ToF32(v.getUint16(b, true)) * alpha), true);
  t.data = out;
  return true;
}

function rowBytes(t: IrTensor): number {
  return t.data.length / t.dims[0];
}

function permuteRowBytes(t: IrTensor, perm: number[]): void {
  const rb = rowBytes(t);
  const out = new Uint8Array(t.data.length);
  perm.forEach((src, dst) => out.set(t.data.subarray(src * rb, (src + 1) * rb), dst * rb));
  t.data = out;
}

interface Draw {
  what: string;
  /** Mutated role keys and config keys (`meta:<field>`). */
  keys: string[];
}

type R = () => number;
const pick = <T,>(r: R, xs: readonly T[]): T => xs[Math.floor(r() * xs.length) % xs.length];

/** Applies one random defect from the grammar to ir; null when the draw does not apply to this model. */
function mutate(ir: ModelIr, r: R, format: "gguf" | "apr"): Draw | null {
  const mats = ir.tensors.filter((t) => t.dims.length === 2 && keyOf(t) && keyOf(t) !== "token_embd");
  const vecs = ir.tensors.filter((t) => t.dims.length === 1 && keyOf(t));
  const kind = pick(r, ["exchange", "replace", "scale", "sign", "offset", "rows", "heads", "transpose", "blocks", "nan", "rms-eps", "rope-base", "rope-dim", "rope-scale", "relabel"] as const);
  const c = ir.config;
  switch (kind) {
    case "exchange":
    case "replace": {
      const t = pick(r, mats);
      const others = ir.tensors.filter((x) => x !== t && keyOf(x) && x.type === t.type && x.dims.join() === t.dims.join() && Buffer.compare(Buffer.from(x.data), Buffer.from(t.data)) !== 0);
      if (!others.length) return null;
      const o = pick(r, others);
      if (kind === "exchange") {
        [t.data, o.data] = [o.data, t.data];
        return { what: `exchange ${keyOf(t)} <-> ${keyOf(o)}`, keys: [keyOf(t)!, keyOf(o)!] };
      }
      t.data = o.data;
      return { what: `replace ${keyOf(t)} with ${keyOf(o)}`, keys: [keyOf(t)!] };
    }
    case "scale":
    case "sign":
    case "offset": {
      const pool = [...mats, ...vecs].filter((t) => t.type === F32T || t.type === F16 || (kind !== "offset" && t.type === Q8_0));
      if (!pool.length) return null;
      const t = pick(r, pool);
      const alpha = kind === "sign" ? -1 : 1 + (0.02 + 0.1 * r()) * (r() < 0.5 ? -1 : 1);
      const off = 0.01 + 0.05 * r();
      const ok = kind === "offset" ? mapValues(t, (x) => x + off) : mapValues(t, (x) => x * alpha) || scaleQ8(t, alpha);
      if (!ok) return null;
      return { what: `${kind} ${keyOf(t)} ${kind === "offset" ? `+${off.toFixed(3)}` : `x${alpha.toFixed(3)}`}`, keys: [keyOf(t)!] };
    }
    case "rows": {
      const t = pick(r, mats);
      const rows = t.dims[0];
      const i = Math.floor(r() * rows), j = (i + 1 + Math.floor(r() * (rows - 1))) % rows;
      const perm = Array.from({ length: rows }, (_, k) => (k === i ? j : k === j ? i : k));
      if (Buffer.compare(Buffer.from(t.data.subarray(i * rowBytes(t), (i + 1) * rowBytes(t))), Buffer.from(t.data.subarray(j * rowBytes(t), (j + 1) * rowBytes(t)))) === 0) return null;
      permuteRowBytes(t, perm);
      return { what: `rows ${i} <-> ${j} of ${keyOf(t)}`, keys: [keyOf(t)!] };
    }
    case "heads": {
      const qk = mats.filter((t) => /attn_[qkv]$/.test(keyOf(t)!));
      const t = pick(r, qk);
      const hd = c.headDim, nH = t.dims[0] / hd;
      if (nH < 2) return null;
      const h1 = Math.floor(r() * nH), h2 = (h1 + 1) % nH;
      const perm = Array.from({ length: t.dims[0] }, (_, k) => {
        const h = Math.floor(k / hd);
        return h === h1 ? h2 * hd + (k % hd) : h === h2 ? h1 * hd + (k % hd) : k;
      });
      permuteRowBytes(t, perm);
      return { what: `heads ${h1} <-> ${h2} of ${keyOf(t)}`, keys: [keyOf(t)!] };
    }
    case "transpose": {
      const sq = mats.filter((t) => t.type === F32T);
      if (!sq.length) return null;
      const t = pick(r, sq);
      const k = keyOf(t)!;
      const m = /^blk\.(\d+)\.(.+)$/.exec(k);
      if (!m) return null;
      injectDefect(ir, parseDefect(`transpose-data:${m[2]}@${m[1]}`), format);
      if (t.dims[0] !== t.dims[1]) return { what: `transpose-data ${k} (non-square: values reshaped)`, keys: [k] };
      return { what: `transpose-data ${k}`, keys: [k] };
    }
    case "blocks": {
      const t = pick(r, mats);
      // APR re-encodes GGUF quant blocks in its own types: one corrupted quant then sits inside the
      // quantization noise between the two types (below the weight floor and the band): not detectable
      if (format === "apr" && t.type !== F32T && t.type !== F16) return null;
      const out = new Uint8Array(t.data);
      const rb = rowBytes(t);
      const row = Math.floor(r() * t.dims[0]);
      // one byte in the middle of one row: a block's quants for quantized types (xor 0x5a), the exponent
      // of an f32/f16 value (its lowest exponent bit: the value doubles or halves)
      const mid = row * rb + Math.floor(rb / 2);
      const at = t.type === F32T ? mid - (mid % 4) + 2 : t.type === F16 ? mid - (mid % 2) + 1 : mid;
      if (t.type === F32T) out[at] ^= 0x80;
      else if (t.type === F16) out[at] ^= 0x04;
      else out[at] ^= 0x5a;
      t.data = out;
      return { what: `byte ${at} of ${keyOf(t)} (row ${row})`, keys: [keyOf(t)!] };
    }
    case "nan": {
      const pool = [...mats, ...vecs].filter((t) => t.type === F32T || t.type === F16);
      if (!pool.length) return null;
      const t = pick(r, pool);
      const i = Math.floor(r() * (t.type === F32T ? t.data.length / 4 : t.data.length / 2));
      const out = new Uint8Array(t.data);
      const v = new DataView(out.buffer);
      if (t.type === F32T) v.setFloat32(i * 4, r() < 0.5 ? NaN : Infinity, true);
      else v.setUint16(i * 2, 0x7e00, true);
      t.data = out;
      return { what: `NaN/Inf at element ${i} of ${keyOf(t)}`, keys: [keyOf(t)!] };
    }
    case "rms-eps":
      injectDefect(ir, parseDefect(`rms-eps=${(1e-3 * (1 + 9 * r())).toPrecision(3)}`), format);
      return { what: "rms eps", keys: ["meta:rmsEps"] };
    case "rope-base":
      injectDefect(ir, parseDefect(`rope-base=${Math.round(20000 + 400000 * r())}`), format);
      return { what: "rope base", keys: ["meta:ropeBase"] };
    case "rope-dim": {
      // partial rotary: only half of each head rotated (GGUF key; APR has none)
      if (format !== "gguf") return null;
      ir.gguf = { ...ir.gguf, [`${ir.arch}.rope.dimension_count`]: { type: GgufType.UINT32, value: c.headDim / 2 } };
      return { what: `rope dims ${c.headDim / 2}`, keys: ["meta:ropeDim"] };
    }
    case "rope-scale": {
      if (format !== "gguf") return null;
      const factor = 2 + Math.floor(3 * r());
      ir.gguf = {
        ...ir.gguf,
        [`${ir.arch}.rope.scaling.type`]: { type: GgufType.STRING, value: "linear" },
        [`${ir.arch}.rope.scaling.factor`]: { type: GgufType.FLOAT32, value: factor },
      };
      return { what: `linear rope scaling x${factor}`, keys: ["meta:ropeScaling"] };
    }
    case "relabel": {
      // a NEOX model relabelled as llama (NORM) without permuting Q/K: GGUF only (APR writes rope_type from the config)
      if (c.ropeLayout !== "neox" || format !== "gguf" || ir.arch === "qwen3") return null;
      relabel(ir, "llama");
      return { what: `${c.arch} relabelled as llama without the Q/K permutation`, keys: ["meta:arch"] };
    }
  }
}

function relabel(ir: ModelIr, to: string): void {
  const from = ir.arch;
  const g: typeof ir.gguf = {};
  for (const [k, v] of Object.entries(ir.gguf)) g[k.startsWith(`${from}.`) ? `${to}.${k.slice(from.length + 1)}` : k] = v;
  g["general.architecture"] = { ...g["general.architecture"], value: to } as never;
  ir.gguf = g;
  ir.arch = to;
}

function earliest(keys: string[]): string {
  const pts = keys.map((k) => {
    if (k === "meta:rmsEps") return { point: "attn_norm", layer: 0, key: "blk.0.attn_norm" };
    if (k === "meta:ropeBase" || k === "meta:arch" || k === "meta:ropeDim" || k === "meta:ropeScaling") return { point: "q_rope", layer: 0, key: "blk.0.q_rope" };
    return pointOfRole(k);
  });
  return pts.sort((x, y) => compareForward({ ...x, step: 0 }, { ...y, step: 0 }))[0].key;
}

for (const arch of ARCHS) {
  for (const type of TYPES) {
    describe(`random defects on ${arch} ${type}`, () => {
      it(`${DRAWS} draws (seed ${SEED}): verdict, first divergence at the consumer, experiments confirm exactly the mutated tensors/keys`, async () => {
        const r = rng(SEED ^ (ARCHS.indexOf(arch) * 97 + TYPES.indexOf(type) * 13));
        const file = base[`${arch}-${type}`]!;
        let done = 0, tries = 0;
        while (done < DRAWS && tries++ < DRAWS * 4) {
          const ir = await readGgufIr(file);
          const format = r() < 0.7 ? "gguf" : "apr";
          const d = mutate(ir, r, format);
          if (!d) continue;
          // APR stores a tied head as its own tensor: a defect in token_embd reaches it too
          if (format === "apr" && d.keys.includes("token_embd") && !ir.tensors.some((t) => keyOf(t) === "output")) d.keys.push("output");
          const mutant = await write(ir, format);
          const res = await runComparison({ a: { path: mutant }, b: { path: file }, tokens: TOKENS });
          const tag = `seed ${SEED} draw ${done} ${arch} ${type} ${format}: ${d.what}`;
          expect(res.verdict, `${tag}: ${res.diagnosis?.id} ${res.diagnosis?.evidence.join("; ")}`).toBe("DIVERGED");
          expect(res.firstDivergence?.key, `${tag}: ${res.diagnosis?.evidence.join("; ")}`).toBe(earliest(d.keys));
          expect([...(res.experiments?.minimal ?? [])].sort(), `${tag}: ${JSON.stringify(res.experiments)} ${res.diagnosis?.evidence.join("; ")}`).toEqual([...d.keys].sort());
          done++;
        }
        expect(done).toBe(DRAWS);
      }, 600_000);
    });
  }
}

describe("no false alarms on equal or equivalent pairs", () => {
  it("identical copies (GGUF and APR) match in the exact regime, F32 vs its requantized copies stay within band", async () => {
    for (const arch of ARCHS) {
      for (const format of ["gguf", "apr"] as const) {
        const f = base[`${arch}-F32`]!;
        const res = await runComparison({ a: { path: await write(await readGgufIr(f), format) }, b: { path: f }, tokens: TOKENS });
        expect(res.verdict, `${arch} ${format}`).toBe("MATCH");
        expect(res.regime?.id).toBe("exact");
      }
      for (const t of ["F16", "Q8_0", "Q4_K_M"] as FxType[]) {
        const res = await runComparison({ a: { path: base[`${arch}-${t}`]! }, b: { path: base[`${arch}-F32`]! }, tokens: TOKENS });
        expect(["MATCH", "DRIFT"], `${arch} ${t}: ${res.diagnosis?.evidence.join("; ")}`).toContain(res.verdict);
        expect(res.findings.filter((x) => x.fatal)).toEqual([]);
      }
    }
  }, 600_000);

  it("a correct llama -> qwen2 conversion (Q/K permuted to split halves, zero biases) matches; without the permutation it is a RoPE layout mismatch at q_rope", async () => {
    const f = base["llama-F32"]!;
    const ir = await readGgufIr(f);
    const c = ir.config;
    for (const t of ir.tensors) {
      const k = keyOf(t);
      if (!k || !/attn_[qk]$/.test(k)) continue;
      const heads = k.endsWith("attn_q") ? c.nHead : c.nHeadKv;
      const hd = t.dims[0] / heads;
      // adjacent pairs (2j, 2j+1) -> split halves (j, j + hd/2): row split[h*hd + s*half + j] = adjacent[h*hd + 2j + s]
      const perm = Array.from({ length: t.dims[0] }, (_, dst) => {
        const h = Math.floor(dst / hd), rr = dst % hd, half = hd / 2;
        return h * hd + 2 * (rr % half) + (rr >= half ? 1 : 0);
      });
      permuteRowBytes(t, perm);
    }
    const bad = await readGgufIr(f);
    relabel(ir, "qwen2");
    for (let l = 0; l < c.nLayer; l++) {
      for (const [role, n] of [["attn_q", c.nHead * c.headDim], ["attn_k", c.nHeadKv * c.headDim], ["attn_v", c.nHeadKv * c.headDim]] as const) {
        ir.tensors.push({ name: `blk.${l}.${role}.bias`, type: F32T, dims: [n], data: f32Bytes(new Float32Array(n)) });
      }
    }
    const good = await runComparison({ a: { path: await write(ir, "gguf") }, b: { path: f }, tokens: TOKENS });
    expect(good.verdict, good.diagnosis?.evidence.join("; ")).toBe("MATCH");
    expect(good.findings.some((x) => x.id === "architecture-differs")).toBe(true);
    expect(good.findings.filter((x) => x.fatal)).toEqual([]);
    relabel(bad, "qwen2");
    const wrong = await runComparison({ a: { path: await write(bad, "gguf") }, b: { path: f }, tokens: TOKENS });
    expect(wrong.verdict).toBe("DIVERGED");
    expect(wrong.firstDivergence?.key).toBe("blk.0.q_rope");
    expect(wrong.diagnosis?.id).toBe("rope-layout-mismatch");
  }, 600_000);
});
