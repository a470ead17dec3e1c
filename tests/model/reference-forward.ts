/**
 * A plain, slow, independent f64 forward pass of the llama family, for the tests: everything in
 * Float64Array, no rosetta kernels except the kernels helper's dequantize (to read the weights), RoPE
 * angles computed directly as pos * base^(-2i/d). It follows HF/llama.cpp definitions, not rosetta's code.
 */
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";

import type { LoadedModel } from "../../src/formats/model.js";

const require = createRequire(import.meta.url);
const addon = require(path.resolve(process.env.ROSETTA_BUILD_DIR ?? "build", "Release", "rosetta.node")) as {
  dequantize(src: ArrayBufferView, offset: number, byteLength: number, type: number, n: number, out: Float32Array): void;
};

export type RefCapture = (key: string, x: Float64Array) => void;

interface W { data: Float64Array; rows: number; cols: number }

function tensor(m: LoadedModel, file: Buffer, key: string): W | null {
  const v = m.byRole.get(key);
  if (!v) return null;
  const n = v.dims.reduce((a, b) => a * b, 1);
  const out = new Float32Array(n);
  addon.dequantize(file, v.offset, v.byteLength, v.type, n, out);
  return { data: Float64Array.from(out), rows: v.dims.length === 2 ? v.dims[0] : 1, cols: v.dims[v.dims.length - 1] };
}

function matmul(x: Float64Array, T: number, w: W): Float64Array {
  const y = new Float64Array(T * w.rows);
  for (let t = 0; t < T; t++)
    for (let o = 0; o < w.rows; o++) {
      let s = 0;
      for (let i = 0; i < w.cols; i++) s += x[t * w.cols + i] * w.data[o * w.cols + i];
      y[t * w.rows + o] = s;
    }
  return y;
}

function rmsnorm(x: Float64Array, rows: number, n: number, w: Float64Array, eps: number): Float64Array {
  const y = new Float64Array(rows * n);
  for (let r = 0; r < rows; r++) {
    let ss = 0;
    for (let i = 0; i < n; i++) ss += x[r * n + i] ** 2;
    const s = 1 / Math.sqrt(ss / n + eps);
    for (let i = 0; i < n; i++) y[r * n + i] = x[r * n + i] * s * w[i];
  }
  return y;
}

function ropeInPlace(x: Float64Array, T: number, heads: number, hd: number, pos0: number, dims: number, base: number, neox: boolean) {
  for (let t = 0; t < T; t++)
    for (let h = 0; h < heads; h++) {
      const o = (t * heads + h) * hd;
      for (let i = 0; i < dims / 2; i++) {
        const theta = (pos0 + t) * Math.pow(base, (-2 * i) / dims);
        const [a, b] = neox ? [o + i, o + i + dims / 2] : [o + 2 * i, o + 2 * i + 1];
        const x0 = x[a], x1 = x[b];
        x[a] = x0 * Math.cos(theta) - x1 * Math.sin(theta);
        x[b] = x0 * Math.sin(theta) + x1 * Math.cos(theta);
      }
    }
}

/** Full-sequence forward over `tokens` (positions 0..T-1); calls cap with `blk.<l>.<point>` keys. */
export function referenceForward(m: LoadedModel, tokens: number[], cap: RefCapture): Float64Array {
  const c = m.config;
  if (c.ropeScaling.type !== "none") throw new Error("reference forward: rope scaling is not implemented");
  const file = readFileSync(m.path);
  const T = tokens.length, E = c.nEmbd, hd = c.headDim, H = c.nHead, KV = c.nHeadKv;
  const emb = tensor(m, file, "token_embd")!;
  let x = new Float64Array(T * E);
  tokens.forEach((id, t) => x.set(emb.data.subarray(id * E, (id + 1) * E), t * E));
  cap("embd", x);
  const bias = (y: Float64Array, b: W | null, n: number) => {
    if (b) for (let t = 0; t < T; t++) for (let i = 0; i < n; i++) y[t * n + i] += b.data[i];
  };
  for (let l = 0; l < c.nLayer; l++) {
    const L = (r: string) => tensor(m, file, `blk.${l}.${r}`);
    const k_ = (p: string) => `blk.${l}.${p}`;
    const h = rmsnorm(x, T, E, L("attn_norm")!.data, c.rmsEps);
    cap(k_("attn_norm"), h);
    const q = matmul(h, T, L("attn_q")!); bias(q, L("attn_q_bias"), H * hd); cap(k_("q"), q);
    const k = matmul(h, T, L("attn_k")!); bias(k, L("attn_k_bias"), KV * hd); cap(k_("k"), k);
    const v = matmul(h, T, L("attn_v")!); bias(v, L("attn_v_bias"), KV * hd); cap(k_("v"), v);
    let qq = q, kk = k;
    if (c.qkNorm) {
      qq = rmsnorm(q, T * H, hd, L("attn_q_norm")!.data, c.rmsEps);
      kk = rmsnorm(k, T * KV, hd, L("attn_k_norm")!.data, c.rmsEps);
    }
    ropeInPlace(qq, T, H, hd, 0, c.ropeDim, c.ropeBase, c.ropeLayout === "neox");
    ropeInPlace(kk, T, KV, hd, 0, c.ropeDim, c.ropeBase, c.ropeLayout === "neox");
    cap(k_("q_rope"), qq);
    cap(k_("k_rope"), kk);
    const att = new Float64Array(T * H * hd);
    for (let hh = 0; hh < H; hh++) {
      const g = Math.floor(hh / (H / KV));
      for (let t = 0; t < T; t++) {
        const s = new Float64Array(t + 1);
        for (let j = 0; j <= t; j++) {
          let d = 0;
          for (let i = 0; i < hd; i++) d += qq[(t * H + hh) * hd + i] * kk[(j * KV + g) * hd + i];
          s[j] = d / Math.sqrt(hd);
        }
        const mx = Math.max(...s);
        let sum = 0;
        for (let j = 0; j <= t; j++) sum += (s[j] = Math.exp(s[j] - mx));
        for (let i = 0; i < hd; i++) {
          let a = 0;
          for (let j = 0; j <= t; j++) a += (s[j] / sum) * v[(j * KV + g) * hd + i];
          att[(t * H + hh) * hd + i] = a;
        }
      }
    }
    cap(k_("attn"), att);
    const ao = matmul(att, T, L("attn_output")!); bias(ao, L("attn_output_bias"), E); cap(k_("attn_out"), ao);
    const fi = x.map((xv, i) => xv + ao[i]); cap(k_("ffn_inp"), fi);
    const h2 = rmsnorm(fi, T, E, L("ffn_norm")!.data, c.rmsEps); cap(k_("ffn_norm"), h2);
    const g = matmul(h2, T, L("ffn_gate")!); cap(k_("ffn_gate"), g);
    const u = matmul(h2, T, L("ffn_up")!); cap(k_("ffn_up"), u);
    const a = g.map((gv, i) => (gv / (1 + Math.exp(-gv))) * u[i]); cap(k_("ffn_act"), a);
    const d = matmul(a, T, L("ffn_down")!); cap(k_("ffn_out"), d);
    x = fi.map((fv, i) => fv + d[i]); cap(k_("l_out"), x);
  }
  const rn = rmsnorm(x, T, E, tensor(m, file, "output_norm")!.data, c.rmsEps);
  cap("result_norm", rn);
  const out = tensor(m, file, "output") ?? emb;
  const logits = matmul(rn, T, out);
  cap("logits", logits);
  return logits;
}
