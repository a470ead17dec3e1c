"""A plain numpy forward pass of a llama model (float32), traced with rosetta_trace.

Used by tests/trace/python-writer.test.ts: the test dumps the weights of a GGUF fixture as .npy files
(row-major [out, in], GGUF tensor names) plus config.json (rosetta's ModelConfig); this script runs
RMSNorm, q/k/v, RoPE NORM (adjacent pairs (2i, 2i+1), theta = pos * base^(-2i/ropeDim)), causal attention
with grouped-query heads, o_proj, the SwiGLU FFN, the final norm and the logits, and writes every capture
point (full tensors) with rosetta_trace.TraceWriter. rosetta then compares the trace with its own engine.

    python numpy_forward.py WEIGHTS_DIR OUT_BASE TOKEN_IDS   (TOKEN_IDS: 1,17,42)
"""
import json
import os
import sys

import numpy as np

from rosetta_trace import TraceWriter


def main(wdir: str, out: str, tokens: list) -> None:
    cfg = json.load(open(os.path.join(wdir, "config.json")))
    W = lambda name: np.load(os.path.join(wdir, name + ".npy"))  # noqa: E731
    E, H, Hkv, hd, eps = cfg["nEmbd"], cfg["nHead"], cfg["nHeadKv"], cfg["headDim"], np.float32(cfg["rmsEps"])
    rope_dim, base = cfg.get("ropeDim", hd), cfg["ropeBase"]
    assert cfg.get("ropeLayout", "norm") == "norm", "this forward pass implements RoPE NORM (llama)"
    T = len(tokens)
    pos = np.arange(T)

    def rms_norm(x, w):
        ms = np.mean(x.astype(np.float64) ** 2, axis=-1, keepdims=True)
        return ((x / np.sqrt(ms + float(eps))).astype(np.float32) * w).astype(np.float32)

    def linear(x, w):  # w: [out, in]
        return (x @ w.T).astype(np.float32)

    # RoPE NORM: rotate adjacent pairs (2i, 2i+1) of each head by pos * base^(-2i/ropeDim)
    inv = base ** (-np.arange(0, rope_dim, 2, dtype=np.float64) / rope_dim)
    ang = pos[:, None].astype(np.float64) * inv[None, :]  # [T, rope_dim/2]
    cos, sin = np.cos(ang), np.sin(ang)

    def rope(x, nh):
        y = x.reshape(T, nh, hd).astype(np.float64)
        a, b = y[:, :, 0:rope_dim:2].copy(), y[:, :, 1:rope_dim:2].copy()
        c, s = cos[:, None, :], sin[:, None, :]
        y[:, :, 0:rope_dim:2] = a * c - b * s
        y[:, :, 1:rope_dim:2] = a * s + b * c
        return y.reshape(T, nh * hd).astype(np.float32)

    w = TraceWriter(engine="numpy-reference", engine_version=np.__version__, tokens=tokens,
                    settings={"dtype": "float32", "attention": "causal, grouped-query"},
                    model={"arch": cfg["arch"], "path": cfg.get("path", wdir), "config": cfg}, top_k=5)
    w.step(0)
    x = W("token_embd.weight")[tokens].astype(np.float32)
    w.point("embd", x, full=True)
    for l in range(cfg["nLayer"]):
        p = f"blk.{l}."
        h = rms_norm(x, W(p + "attn_norm.weight"))
        w.point(p + "attn_norm", h, full=True)
        q, k, v = (linear(h, W(p + f"attn_{n}.weight")) for n in "qkv")
        w.point(p + "q", q, full=True)
        w.point(p + "k", k, full=True)
        w.point(p + "v", v, full=True)
        qr, kr = rope(q, H), rope(k, Hkv)
        w.point(p + "q_rope", qr, full=True)
        w.point(p + "k_rope", kr, full=True)
        qh = qr.reshape(T, H, hd).transpose(1, 0, 2)  # [H, T, hd]
        kh = kr.reshape(T, Hkv, hd).transpose(1, 0, 2)
        vh = v.reshape(T, Hkv, hd).transpose(1, 0, 2)
        rep = H // Hkv  # query head i reads kv head i // rep
        kh, vh = np.repeat(kh, rep, axis=0), np.repeat(vh, rep, axis=0)
        scores = (qh.astype(np.float64) @ kh.transpose(0, 2, 1).astype(np.float64)) / np.sqrt(hd)
        scores = np.where(np.tril(np.ones((T, T), dtype=bool))[None], scores, -np.inf)
        e = np.exp(scores - scores.max(axis=-1, keepdims=True))
        probs = (e / e.sum(axis=-1, keepdims=True)).astype(np.float32)  # [H, T, T]
        w.point(p + "kq_softmax", probs, full=True)
        att = (probs @ vh).transpose(1, 0, 2).reshape(T, H * hd).astype(np.float32)
        w.point(p + "attn", att, full=True)
        ao = linear(att, W(p + "attn_output.weight"))
        w.point(p + "attn_out", ao, full=True)
        fi = (x + ao).astype(np.float32)
        w.point(p + "ffn_inp", fi, full=True)
        h2 = rms_norm(fi, W(p + "ffn_norm.weight"))
        w.point(p + "ffn_norm", h2, full=True)
        g, u = linear(h2, W(p + "ffn_gate.weight")), linear(h2, W(p + "ffn_up.weight"))
        w.point(p + "ffn_gate", g, full=True)
        w.point(p + "ffn_up", u, full=True)
        act = (g / (1 + np.exp(-g.astype(np.float64))) * u).astype(np.float32)
        w.point(p + "ffn_act", act, full=True)
        down = linear(act, W(p + "ffn_down.weight"))
        w.point(p + "ffn_out", down, full=True)
        x = (fi + down).astype(np.float32)
        w.point(p + "l_out", x, full=True)
    hn = rms_norm(x, W("output_norm.weight"))
    w.point("result_norm", hn, full=True)
    out_w = W("output.weight") if os.path.exists(os.path.join(wdir, "output.weight.npy")) else W("token_embd.weight")
    w.point("logits", linear(hn, out_w), full=True)
    print(w.save(out))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], [int(t) for t in sys.argv[3].split(",")])
