"""TraceWriter: one engine's activations for one model and one input, as a rosetta trace.

The format (docs/trace-format.md): ``BASE.json`` (header, input, one entry per capture point with two
same-sample summaries) and, when full tensors are kept, ``BASE.safetensors`` (float32, row-major).
Summaries are computed here exactly as docs/metrics.md defines them, in float64, over the float32 values
that are (or would be) stored: count, nan, inf, zeros (finite == 0), and over the finite elements mean,
population std, min, max, absmax, l2. ``rosetta validate-trace BASE.json`` checks a written trace.
"""
from __future__ import annotations

import json
import math
import os
import re
from datetime import datetime, timezone
from typing import Any, Dict, Iterable, List, Optional, Sequence

import numpy as np

TRACE_FORMAT = "rosetta-trace"
TRACE_FORMAT_VERSION = 1

# Canonical capture points (src/trace/types.ts), in forward order. "qkv" is the derived q|k|v
# concatenation per token (rosetta derives it from its own q, k, v when the other side records it).
LAYER_POINTS = (
    "attn_norm", "q", "k", "v", "qkv", "q_rope", "k_rope", "kq_softmax", "attn", "attn_out",
    "ffn_inp", "ffn_norm", "ffn_gate", "ffn_up", "ffn_act", "ffn_out", "l_out",
)
GLOBAL_POINTS = ("embd", "result_norm", "logits")
_ORDER = {p: i for i, p in enumerate(LAYER_POINTS)}
_KEY = re.compile(r"^blk\.(0|[1-9][0-9]*)\.([a-z_]+)$")
_MODEL_STR = ("path", "sha256", "arch", "fileType")


def _parse_key(name: str):
    """'blk.3.q_rope' -> ('q_rope', 3); 'embd' -> ('embd', None); anything else: ValueError."""
    if name in GLOBAL_POINTS:
        return name, None
    m = _KEY.match(name)
    if m and m.group(2) in LAYER_POINTS:
        return m.group(2), int(m.group(1))
    raise ValueError(
        f"{name!r} is not a rosetta capture point: use one of {', '.join(GLOBAL_POINTS)} or "
        f"blk.<layer>.<point> with <point> in {', '.join(LAYER_POINTS)} (docs/capture-points.md)"
    )


def summarize(x: Any) -> Dict[str, Any]:
    """The Summary of docs/metrics.md over the float32 values of x, accumulated in float64.

    min/max are None (JSON null) when no element is finite; -0 orders below +0.
    """
    a = np.asarray(x, dtype=np.float32).ravel()
    nan = int(np.count_nonzero(np.isnan(a)))
    inf = int(np.count_nonzero(np.isinf(a)))
    fin = a[np.isfinite(a)].astype(np.float64)
    n = int(fin.size)
    zeros = int(np.count_nonzero(fin == 0))
    if n == 0:
        return {"count": int(a.size), "nan": nan, "inf": inf, "zeros": zeros,
                "mean": 0.0, "std": 0.0, "min": None, "max": None, "absmax": 0.0, "l2": 0.0}
    mean = float(fin.sum() / n)
    d = fin - mean
    std = math.sqrt(float(np.dot(d, d)) / n)
    mn, mx = float(fin.min()), float(fin.max())
    if zeros:
        z = fin[fin == 0]
        if mn == 0 and bool(np.any(np.signbit(z))):
            mn = -0.0
        if mx == 0 and bool(np.any(~np.signbit(z))):
            mx = 0.0
    return {"count": int(a.size), "nan": nan, "inf": inf, "zeros": zeros, "mean": mean, "std": std,
            "min": mn, "max": mx, "absmax": max(abs(mn), abs(mx)), "l2": math.sqrt(float(np.dot(fin, fin)))}


def _last_token(x: np.ndarray, point: str) -> np.ndarray:
    """The last token's elements: the last row of [T, width], row T-1 of every head of kq_softmax."""
    return x[:, -1, :] if point == "kq_softmax" else x[-1]


def _jsonable(v: Any) -> Any:
    """NaN/Inf cannot appear in JSON: written as null (rosetta reads min/max null as NaN)."""
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if isinstance(v, dict):
        return {k: _jsonable(u) for k, u in v.items()}
    if isinstance(v, (list, tuple)):
        return [_jsonable(u) for u in v]
    if isinstance(v, np.generic):
        return _jsonable(v.item())
    return v


def _ids(xs: Iterable[Any], what: str) -> List[int]:
    out = []
    for v in xs:
        i = int(v)
        if i != v or i < 0:
            raise ValueError(f"{what} must be non-negative integer token ids, got {v!r}")
        out.append(i)
    return out


class TraceWriter:
    """Collects capture points for one model and one input, then writes BASE.json (+ BASE.safetensors).

    engine:   the engine's name ("myengine"); engine_version and settings (everything that changes
              numerics: dtype, threads, kernels...) are recorded with it.
    tokens:   the prompt's token ids (with BOS if your tokenizer added it); step 0 covers all of them.
    model:    optional {path, sha256, arch, fileType, config, metadata}; config in rosetta's ModelConfig
              field names (nLayer, nEmbd, nHead, nHeadKv, headDim, nFf, nVocab, rmsEps, ropeBase, ...)
              lets the comparator diff hyperparameters with the other side.
    top_k:    when > 0, the "logits" point also records the top-k ids and logits of every position.
    """

    def __init__(self, engine: str, tokens: Sequence[int], model: Optional[Dict[str, Any]] = None, *,
                 engine_version: Optional[str] = None, settings: Optional[Dict[str, Any]] = None,
                 prompt: Optional[str] = None, generated: Sequence[int] = (), top_k: int = 0):
        if not isinstance(engine, str) or not engine:
            raise ValueError("engine must be a non-empty string (the engine's name)")
        self.engine = engine
        self.engine_version = engine_version
        self.settings = dict(settings or {})
        self.tokens = _ids(tokens, "tokens")
        if not self.tokens:
            raise ValueError("tokens must hold at least one token id")
        self.generated = _ids(generated, "generated")
        self.prompt = prompt
        model = dict(model or {})
        for k in _MODEL_STR:
            if k in model and not isinstance(model[k], str):
                raise ValueError(f"model[{k!r}] must be a string")
        for k in ("config", "metadata"):
            if k in model and not isinstance(model[k], dict):
                raise ValueError(f"model[{k!r}] must be a dict")
        self.model = model
        self.top_k = int(top_k)
        self.points: List[Dict[str, Any]] = []
        self.tensors: Dict[str, np.ndarray] = {}
        self.top: List[Dict[str, Any]] = []
        self._seen = set()
        self._step: Optional[int] = None
        self._first_pos = 0
        self._step_tokens: Optional[int] = None

    # -- steps ---------------------------------------------------------------------------------------
    def step(self, s: int, token: Optional[int] = None, first_pos: Optional[int] = None) -> "TraceWriter":
        """Start step s: 0 = the prompt (one batch), s >= 1 = decode step s (one token each).

        A decode step consumes input.generated[s-1]; give it as `token` unless `generated` was passed
        to the constructor. first_pos defaults to 0 for the prompt and len(tokens) + s - 1 after it.
        """
        s = int(s)
        if s < 0:
            raise ValueError(f"step {s}: steps are 0 (the prompt) and 1, 2, ... (decode steps)")
        if token is not None:
            if s != len(self.generated) + 1:
                raise ValueError(f"step {s} with token: decode steps take their tokens in order (next is step {len(self.generated) + 1})")
            self.generated.extend(_ids([token], "token"))
        if s > len(self.generated):
            raise ValueError(f"step {s}: decode step {s} consumes generated[{s - 1}]: give it as step({s}, token=ID)")
        self._step = s
        self._first_pos = int(first_pos) if first_pos is not None else (0 if s == 0 else len(self.tokens) + s - 1)
        self._step_tokens = None
        return self

    # -- points --------------------------------------------------------------------------------------
    def point(self, name: str, array: Any, full: bool = False, source: Optional[Dict[str, Any]] = None) -> "TraceWriter":
        """Record capture point `name` of the current step.

        array: [T, width] per token (heads concatenated head-major; [T, heads, head_dim] is flattened to
        that), or [heads, T, n_kv] for blk.N.kq_softmax. Any float dtype (a torch tensor: pass
        t.detach().float().cpu().numpy()); the values are taken as float32. full=True also stores the
        tensor in BASE.safetensors as s<step>.<name>, which lets the comparator diff element by element.
        """
        if self._step is None:
            raise ValueError("call step(0) before the first point")
        point, layer = _parse_key(name)
        key = name
        if (self._step, key) in self._seen:
            raise ValueError(f"point {key} of step {self._step} was already recorded")
        x = np.ascontiguousarray(np.asarray(array, dtype=np.float32))
        if point == "kq_softmax":
            if x.ndim != 3:
                raise ValueError(f"{key}: kq_softmax takes [heads, T, n_kv], got shape {list(x.shape)}")
            t = x.shape[1]
        else:
            if x.ndim == 3:
                x = x.reshape(x.shape[0], -1)
            if x.ndim != 2:
                raise ValueError(f"{key}: a per-token point takes [T, width] (or [T, heads, head_dim]), got shape {list(x.shape)}")
            t = x.shape[0]
        if x.size == 0:
            raise ValueError(f"{key}: empty array (shape {list(x.shape)})")
        if self._step_tokens is None:
            want = len(self.tokens) if self._step == 0 else 1
            if self._step == 0 and t != want:
                raise ValueError(f"{key}: step 0 covers the {want} prompt tokens, but the array has {t} token(s) (shape {list(x.shape)})")
            self._step_tokens = t
        elif t != self._step_tokens:
            raise ValueError(f"{key}: {t} token(s), but the other points of step {self._step} have {self._step_tokens}")
        if self._first_pos + t > len(self.tokens) + len(self.generated):
            raise ValueError(f"{key}: positions [{self._first_pos}, {self._first_pos + t}) run past the {len(self.tokens) + len(self.generated)} input tokens")
        p: Dict[str, Any] = {
            "key": key, "point": point, "layer": layer, "step": self._step, "shape": [int(d) for d in x.shape],
            "firstPos": self._first_pos, "tokens": int(t), "all": summarize(x), "last": summarize(_last_token(x, point)),
        }
        if full:
            tname = f"s{self._step}.{key}"
            self.tensors[tname] = x
            p["tensor"] = tname
        if source is not None:
            p["source"] = dict(source)
        self.points.append(p)
        self._seen.add((self._step, key))
        if point == "logits" and self.top_k > 0:
            self._record_top(x)
        return self

    def _record_top(self, x: np.ndarray) -> None:
        k = min(self.top_k, x.shape[1])
        ids = np.arange(x.shape[1])
        for r in range(x.shape[0]):
            row = x[r].astype(np.float64)
            key = np.where(np.isnan(row), -np.inf, row)
            order = np.lexsort((ids, -key))[:k]  # descending logit, lowest id on ties
            self.top.append({"pos": self._first_pos + r, "ids": [int(i) for i in order], "logits": [float(row[i]) for i in order]})

    # -- output --------------------------------------------------------------------------------------
    def to_dict(self, tensors_file: Optional[str] = None) -> Dict[str, Any]:
        """The trace JSON object (what save() writes)."""
        engine: Dict[str, Any] = {"name": self.engine}
        if self.engine_version is not None:
            engine["version"] = str(self.engine_version)
        engine["settings"] = self.settings
        inp: Dict[str, Any] = {}
        if self.prompt is not None:
            inp["prompt"] = self.prompt
        inp["tokens"] = self.tokens
        inp["generated"] = self.generated
        t: Dict[str, Any] = {"format": TRACE_FORMAT, "version": TRACE_FORMAT_VERSION, "engine": engine,
                             "model": self.model, "input": inp, "points": self.points}
        if self.top_k > 0 and self.top:
            t["logits"] = {"k": self.top_k, "top": self.top}
        if tensors_file:
            t["tensors"] = tensors_file
        t["createdAt"] = datetime.now(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")
        return t

    def save(self, base: str) -> str:
        """Writes BASE.json and, when a point was recorded with full=True, BASE.safetensors; returns the JSON path.

        `base` may end in .json (out/x.json and out/x name the same files).
        """
        if not self.points:
            raise ValueError("no points recorded: nothing to save")
        base = str(base)
        if base.endswith(".json"):
            base = base[: -len(".json")]
        d = os.path.dirname(base)
        if d:
            os.makedirs(d, exist_ok=True)
        tensors_file = None
        if self.tensors:
            from safetensors.numpy import save_file

            tensors_file = os.path.basename(base) + ".safetensors"
            save_file(self.tensors, base + ".safetensors", metadata={"format": TRACE_FORMAT, "version": str(TRACE_FORMAT_VERSION)})
        elif os.path.exists(base + ".safetensors"):
            os.remove(base + ".safetensors")  # a stale file from an earlier run would not match
        t = _jsonable(self.to_dict(tensors_file))
        pts = t.pop("points")
        logits = t.pop("logits", None)
        head = json.dumps(t, indent=1, allow_nan=False)[:-2]
        body = ",\n".join("  " + json.dumps(p, separators=(",", ":"), allow_nan=False) for p in pts)
        s = head + ',\n "points": [\n' + body + "\n ]"
        if logits is not None:
            tops = ",\n".join("  " + json.dumps(e, separators=(",", ":"), allow_nan=False) for e in logits["top"])
            s += ',\n "logits": {"k":' + str(logits["k"]) + ',"top": [\n' + tops + "\n ]}"
        s += "\n}\n"
        with open(base + ".json", "w", encoding="utf-8") as f:
            f.write(s)
        return base + ".json"
