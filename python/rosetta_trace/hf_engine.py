"""The transformers engine: runs a Hugging Face model folder (config.json + *.safetensors) or a GGUF file
(through transformers' own GGUF loading) in PyTorch on the CPU and writes a rosetta trace of every
canonical capture point (docs/capture-points.md, docs/transformers-engine.md).

    python -m rosetta_trace.hf_engine --model DIR_OR_GGUF (--tokens 1,2,3 | --prompt TEXT) --out BASE
        [--gen N] [--forced 5,6] [--full GLOB ...] [--dtype float32] [--threads N] [--top K]

The CLI (`rosetta A B --engine-a transformers`, `rosetta trace --engine transformers`) starts this
module in the project's .venv-python. Exit codes as rosetta's: 0 written, 2 bad input (one line on
stderr, e.g. torch not installed), 3 anything else.

What is recorded and how:
- module hooks (torch_hooks.attach_llama_hooks): embd, attn_norm, q, k, v, attn (o_proj input),
  attn_out, ffn_inp, ffn_norm, ffn_gate, ffn_up, ffn_act (down_proj input), ffn_out, l_out,
  result_norm, logits;
- q_rope, k_rope and kq_softmax are no module's output: the model runs with an attention function
  registered here ("rosetta_eager"), which calls the model's own eager_attention_forward (its modeling
  module's, unchanged) and records the query and the new key rows it receives (after RoPE, and after
  qwen3's q/k norm) and the softmax probabilities it returns. Its mask is transformers' eager mask.
- Q/K (and q_rope/k_rope) of llama-family models are permuted per head into GGUF's adjacent-pair RoPE
  order (llama.cpp's converter permutes those rows), so that the trace compares with rosetta or
  llama.cpp running the GGUF; qwen2/qwen3 GGUF files keep HF's order (NEOX RoPE) and nothing is permuted.
  --qk-layout hf keeps HF's order everywhere.
"""
from __future__ import annotations

import argparse
import fnmatch
import hashlib
import json
import os
import platform
import sys
from typing import Any, Dict, List, Optional

from .torch_hooks import PERMUTED_QK  # torch is imported lazily there

EXIT_INPUT = 2
EXIT_INTERNAL = 3

SUPPORTED = {"llama", "mistral", "qwen2", "qwen3"}
DTYPES = ("float32", "bfloat16", "float16")


class InputProblem(Exception):
    """Bad input: one line on stderr, exit 2."""


def _fail(msg: str, code: int) -> None:
    sys.stderr.write(msg.rstrip() + "\n")
    sys.exit(code)


def _ids(s: Optional[str], what: str) -> Optional[List[int]]:
    if s is None:
        return None
    parts = [p for p in s.replace(" ", ",").split(",") if p]
    try:
        ids = [int(p) for p in parts]
    except ValueError:
        raise InputProblem(f"{what} {s!r}: expected comma-separated non-negative token ids")
    if any(i < 0 for i in ids):
        raise InputProblem(f"{what} {s!r}: expected comma-separated non-negative token ids")
    return ids


def _sha256(path: str) -> Optional[str]:
    if not os.path.isfile(path):
        return None
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def rope_scaling(cfg: Any) -> Dict[str, Any]:
    """HF's rope parameters as rosetta's ropeScaling ({type: "none"}, {type: "linear", factor}, ...)."""
    rp = getattr(cfg, "rope_parameters", None) or getattr(cfg, "rope_scaling", None) or {}
    if not isinstance(rp, dict):
        return {"type": "none"}
    t = rp.get("rope_type") or rp.get("type") or "default"
    if t == "default":
        return {"type": "none"}
    out: Dict[str, Any] = {"type": str(t)}
    for k in ("factor", "low_freq_factor", "high_freq_factor", "original_max_position_embeddings"):
        if k in rp and rp[k] is not None:
            out[{"low_freq_factor": "lowFreqFactor", "high_freq_factor": "highFreqFactor",
                 "original_max_position_embeddings": "origCtx"}.get(k, k)] = rp[k]
    return out


def rope_theta(cfg: Any) -> Optional[float]:
    rp = getattr(cfg, "rope_parameters", None)
    if isinstance(rp, dict) and rp.get("rope_theta") is not None:
        return float(rp["rope_theta"])
    v = getattr(cfg, "rope_theta", None)
    return float(v) if v is not None else None


def rosetta_config(cfg: Any, qk_permuted: bool) -> Dict[str, Any]:
    """The HF config in rosetta's ModelConfig field names (docs/trace-format.md, model.config)."""
    n_head = int(cfg.num_attention_heads)
    head_dim = int(getattr(cfg, "head_dim", None) or cfg.hidden_size // n_head)
    mt = cfg.model_type
    out: Dict[str, Any] = {
        "arch": mt,
        "nLayer": int(cfg.num_hidden_layers),
        "nEmbd": int(cfg.hidden_size),
        "nHead": n_head,
        "nHeadKv": int(getattr(cfg, "num_key_value_heads", None) or n_head),
        "headDim": head_dim,
        "headDimV": head_dim,
        "nFf": int(cfg.intermediate_size),
        "nVocab": int(cfg.vocab_size),
        "nCtxTrain": int(getattr(cfg, "max_position_embeddings", 0) or 0),
        "ropeDim": head_dim,
        # HF rotates split halves (NEOX); a trace permuted into GGUF's order is the NORM layout
        "ropeLayout": "norm" if qk_permuted else "neox",
        "ropeScaling": rope_scaling(cfg),
        "rmsEps": float(cfg.rms_norm_eps),
        "tiedEmbeddings": bool(getattr(cfg, "tie_word_embeddings", False)),
        "qkvBias": bool(getattr(cfg, "attention_bias", False)) or mt == "qwen2",
        "qkNorm": mt == "qwen3",
    }
    theta = rope_theta(cfg)
    if theta is not None:
        out["ropeBase"] = theta
    return out


def _glob_any(globs: List[str], key: str) -> bool:
    return any(fnmatch.fnmatchcase(key, g) for g in globs)


def _import_stack():
    """torch and transformers, or one line naming the missing package and the command that installs it."""
    try:
        import torch  # noqa: F401
        import transformers  # noqa: F401
    except ImportError as e:  # a missing package or a torch that cannot load its libraries
        raise InputProblem(
            f"the transformers engine needs torch and transformers in this Python ({sys.executable}): {e}; "
            "install them with `npm run python:setup`"
        )
    return torch, transformers


def load(model_path: str, dtype_name: str):
    """(model, tokenizer source kwargs, how it was loaded) for a HF folder or a GGUF file."""
    torch, transformers = _import_stack()
    from transformers import AutoConfig, AutoModelForCausalLM

    dtype = getattr(torch, dtype_name)
    if os.path.isdir(model_path):
        if not os.path.isfile(os.path.join(model_path, "config.json")):
            raise InputProblem(f"{model_path}: a folder without config.json is no Hugging Face model folder")
        src = {"pretrained_model_name_or_path": model_path}
        loaded_from = "hf-folder"
    elif os.path.isfile(model_path):
        with open(model_path, "rb") as f:
            magic = f.read(4)
        if magic != b"GGUF":
            raise InputProblem(f"{model_path}: the transformers engine runs a Hugging Face model folder or a GGUF file (this is neither)")
        src = {"pretrained_model_name_or_path": os.path.dirname(os.path.abspath(model_path)), "gguf_file": os.path.basename(model_path)}
        loaded_from = "gguf"
    else:
        raise InputProblem(f"{model_path}: no such file or folder")
    try:
        cfg = AutoConfig.from_pretrained(**src, local_files_only=True)
    except Exception as e:  # transformers raises many types for a bad folder/file
        raise InputProblem(f"{model_path}: transformers cannot read its config: {str(e).splitlines()[0] if str(e) else type(e).__name__}")
    if cfg.model_type not in SUPPORTED:
        raise InputProblem(f"{model_path}: model type {cfg.model_type!r}: the transformers engine traces {', '.join(sorted(SUPPORTED))}")
    adjusted = []
    # the checkpoint's stored dtype (config.json), before loading sets config.dtype to the run's
    cfg.rosetta_stored_dtype = str(getattr(cfg, "dtype", None) or "")
    pad = getattr(cfg, "pad_token_id", None)
    if pad is not None and not (0 <= int(pad) < int(cfg.vocab_size)):
        # a GGUF's "no padding token" (-1 stored as u32 4294967295) read as an id: nn.Embedding refuses it
        cfg.pad_token_id = None
        adjusted.append(f"pad_token_id {pad} (outside the vocabulary) -> None")
    if "gguf_file" in src:
        adjusted += _gguf_head_dim(model_path, cfg)
    _register_attention()
    try:
        model = AutoModelForCausalLM.from_pretrained(**src, config=cfg, dtype=dtype, attn_implementation="rosetta_eager", local_files_only=True)
    except (OSError, ValueError, KeyError, RuntimeError) as e:
        raise InputProblem(f"{model_path}: transformers cannot load it: {str(e).splitlines()[0] if str(e) else type(e).__name__}")
    model.eval()
    return model, src, loaded_from, adjusted


def gguf_file_type(path: str) -> Optional[str]:
    """The GGUF's general.file_type as llama.cpp names it (MOSTLY_Q4_K_M, ALL_F32, ...), or None."""
    try:
        from gguf import GGUFReader, LlamaFileType
    except ImportError:
        return None
    f = GGUFReader(path).fields.get("general.file_type")
    if f is None:
        return None
    try:
        return LlamaFileType(int(f.parts[f.data[0]][0])).name
    except ValueError:
        return None


def _gguf_head_dim(path: str, cfg: Any) -> List[str]:
    """transformers' GGUF config mapping does not read `<arch>.attention.key_length` (transformers 5.25: a
    qwen3 GGUF whose head_dim is not Qwen3Config's default 128 fails to load with size mismatches); the
    GGUF's own value is carried over here, and the trace says so (settings.configAdjusted)."""
    try:
        from gguf import GGUFReader
    except ImportError:
        return []
    r = GGUFReader(path)
    arch_field = r.fields.get("general.architecture")
    if arch_field is None:
        return []
    arch = bytes(arch_field.parts[arch_field.data[0]]).decode("utf-8")
    f = r.fields.get(f"{arch}.attention.key_length")
    if f is None:
        return []
    kl = int(f.parts[f.data[0]][0])
    if getattr(cfg, "head_dim", None) == kl:
        return []
    old = getattr(cfg, "head_dim", None)
    cfg.head_dim = kl
    return [f"head_dim {old} -> {kl} (the GGUF's {arch}.attention.key_length, which transformers' GGUF loading does not read)"]


# -- q_rope / k_rope / kq_softmax: the attention function -------------------------------------------
_RECORDER: Dict[str, Any] = {"fn": None}


def _register_attention() -> None:
    from transformers import AttentionInterface
    from transformers.masking_utils import AttentionMaskInterface, eager_mask

    def rosetta_eager(module, query, key, value, attention_mask, *args, **kwargs):
        eager = getattr(sys.modules[type(module).__module__], "eager_attention_forward")
        out, weights = eager(module, query, key, value, attention_mask, *args, **kwargs)
        rec = _RECORDER["fn"]
        if rec is not None:
            rec(module, query, key, weights)
        return out, weights

    AttentionInterface.register("rosetta_eager", rosetta_eager)
    AttentionMaskInterface.register("rosetta_eager", eager_mask)


def run(args: argparse.Namespace) -> str:
    if args.dtype not in DTYPES:
        raise InputProblem(f"--dtype {args.dtype!r}: one of {', '.join(DTYPES)}")
    tokens = _ids(args.tokens, "--tokens")
    forced = _ids(args.forced, "--forced") or []
    if (tokens is None) == (args.prompt is None):
        raise InputProblem("give --prompt or --tokens (one of them)")
    if args.gen < 0:
        raise InputProblem("--gen must be a non-negative integer")
    if forced and len(forced) < args.gen:
        raise InputProblem(f"--forced has {len(forced)} token(s) for {args.gen} decode step(s)")
    torch, transformers = _import_stack()
    import numpy as np
    from . import __version__ as rt_version
    from .torch_hooks import _gguf_qk, attach_llama_hooks
    from .writer import TraceWriter

    if args.threads:
        torch.set_num_threads(int(args.threads))
    import time

    t0 = time.perf_counter()
    model, src, loaded_from, adjusted = load(args.model, args.dtype)
    t_load = time.perf_counter() - t0
    cfg = model.config
    settings: Dict[str, Any] = {
        "dtype": args.dtype,
        # float32 activations on weights dequantized exactly (src/compare/tolerances.ts picks the band by it)
        "numerics": "float32" if args.dtype == "float32" else args.dtype,
        "device": "cpu",
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "rosettaTrace": rt_version,
        "loadedFrom": loaded_from,
        **({"weights": "dequantized by transformers' GGUF loading to the dtype"} if loaded_from == "gguf" else {}),
        "attnImplementation": "eager (transformers' eager_attention_forward, through the recording function rosetta_eager)",
        "batchLayout": "prompt as one forward call; each decode step one token with the KV cache (DynamicCache)",
        "logitsAllPositions": True,
    }
    if adjusted:
        settings["configAdjusted"] = adjusted
    try:
        import gguf  # noqa: F401

        settings["gguf"] = getattr(gguf, "__version__", None) or _dist_version("gguf")
    except ImportError:
        pass
    vocab = int(cfg.vocab_size)
    if tokens is None:
        from transformers import AutoTokenizer

        try:
            tok = AutoTokenizer.from_pretrained(**src, local_files_only=True)
        except Exception as e:
            raise InputProblem(f"{args.model}: transformers cannot load its tokenizer ({str(e).splitlines()[0] if str(e) else type(e).__name__}): give --tokens")
        tokens = [int(t) for t in tok(args.prompt)["input_ids"]]
        settings["tokenizer"] = f"transformers {type(tok).__name__}(text) with its default special tokens"
        if not tokens:
            raise InputProblem("the prompt tokenizes to no tokens")
    bad = [t for t in tokens + forced if t >= vocab]
    if bad:
        raise InputProblem(f"token id {bad[0]} is past the vocabulary ({vocab} tokens)")

    mt = cfg.model_type
    permute = args.qk_layout == "gguf" and mt in PERMUTED_QK
    head_dim = int(getattr(cfg, "head_dim", None) or cfg.hidden_size // cfg.num_attention_heads)
    settings["qkLayout"] = "gguf (q/k rows permuted per head into GGUF's adjacent-pair order)" if permute else "hf (split halves, as the model runs)"
    model_info = {
        "path": args.label or args.model,
        "arch": mt,
        "fileType": str(getattr(cfg, "rosetta_stored_dtype", None) or args.dtype).replace("torch.", "").upper().replace("FLOAT32", "F32").replace("FLOAT16", "F16").replace("BFLOAT16", "BF16"),
        "config": rosetta_config(cfg, permute),
    }
    # the checkpoint's weight type (the band goes by it): the GGUF's file type, or the folder's config.dtype;
    # the engine's own dtype is in settings
    if "gguf_file" in src:
        model_info["fileType"] = gguf_file_type(args.model) or model_info["fileType"]
    sha = _sha256(args.model)
    if sha:
        model_info["sha256"] = sha
    w = TraceWriter(engine="transformers", tokens=tokens, model=model_info, engine_version=transformers.__version__,
                    settings=settings, prompt=args.prompt, top_k=args.top)
    full = args.full or []
    hooks = attach_llama_hooks(model, w, full=False, qk_layout="gguf" if permute else "hf", head_dim=head_dim,
                               select=None, full_select=lambda k: _glob_any(full, k))

    def record_attention(module, query, key, weights) -> None:
        layer = int(module.layer_idx)
        T = query.shape[2]

        def flat(x):  # [1, H, T, D] -> [T, H*D]
            a = x.detach().to(torch.float32)[0].transpose(0, 1).reshape(T, -1).numpy()
            return _gguf_qk(a, head_dim) if permute else a

        for name, x in ((f"blk.{layer}.q_rope", query), (f"blk.{layer}.k_rope", key[:, :, -T:, :])):
            w.point(name, flat(x), full=_glob_any(full, name))
        kq = f"blk.{layer}.kq_softmax"
        if weights is not None:
            w.point(kq, weights.detach().to(torch.float32)[0].numpy(), full=_glob_any(full, kq))

    _RECORDER["fn"] = record_attention
    from transformers import DynamicCache

    cache = DynamicCache(config=cfg)
    try:
        with torch.no_grad():
            w.step(0)
            out = model(torch.tensor([tokens]), cache=cache, use_cache=True)
            nxt = int(torch.argmax(out.logits[0, -1]).item())  # first maximum: the lowest id on ties
            for s in range(1, args.gen + 1):
                tok_id = forced[s - 1] if forced else nxt
                w.step(s, token=tok_id)
                out = model(torch.tensor([[tok_id]]), cache=cache, use_cache=True)
                nxt = int(torch.argmax(out.logits[0, -1]).item())
    finally:
        hooks.remove()
        _RECORDER["fn"] = None
    # wall seconds (informational: they change nothing in the numerics)
    w.settings["seconds"] = {"load": round(t_load, 3), "forward": round(time.perf_counter() - t0 - t_load, 3)}
    if forced:
        w.settings["forced"] = True
    return w.save(args.out)


def _dist_version(name: str) -> Optional[str]:
    try:
        from importlib.metadata import version

        return version(name)
    except Exception:
        return None


def versions() -> Dict[str, Any]:
    """What `--versions` prints: the stack this Python would run (no model is loaded)."""
    torch, transformers = _import_stack()
    return {"python": platform.python_version(), "torch": torch.__version__, "transformers": transformers.__version__,
            "gguf": _dist_version("gguf"), "numpy": _dist_version("numpy"), "cudaAvailable": bool(torch.cuda.is_available())}


def main(argv: Optional[List[str]] = None) -> None:
    p = argparse.ArgumentParser(prog="python -m rosetta_trace.hf_engine", description=__doc__.split("\n\n")[0])
    p.add_argument("--model", help="HF model folder (config.json + *.safetensors) or a GGUF file")
    p.add_argument("--tokens", help="prompt token ids, comma separated")
    p.add_argument("--prompt", help="prompt text (tokenized by the model's transformers tokenizer)")
    p.add_argument("--gen", type=int, default=0, help="greedy decode steps after the prompt")
    p.add_argument("--forced", help="decode-step tokens to consume instead of the own greedy ones (teacher forcing)")
    p.add_argument("--full", action="append", default=[], help="point keys (globs) kept as full tensors")
    p.add_argument("--dtype", default="float32", help="torch dtype the model runs in: float32 (default), bfloat16, float16")
    p.add_argument("--qk-layout", default="gguf", choices=["gguf", "hf"], help="q/k order in the trace (default gguf: GGUF's order for the architecture)")
    p.add_argument("--threads", type=int, default=0, help="torch threads (default torch's)")
    p.add_argument("--top", type=int, default=10, help="top-k logits recorded per position")
    p.add_argument("--label", help="model path recorded in the trace (default --model)")
    p.add_argument("--out", help="output base (BASE.json + BASE.safetensors)")
    p.add_argument("--versions", action="store_true", help="print the torch/transformers/Python versions as JSON and exit")
    a = p.parse_args(argv)
    try:
        if a.versions:
            print(json.dumps(versions()))
            return
        if not a.model or not a.out:
            raise InputProblem("--model and --out are required")
        print(run(a))
    except InputProblem as e:
        _fail(f"transformers engine: {e}", EXIT_INPUT)
    except ValueError as e:  # the writer's checks: a point it cannot record
        _fail(f"transformers engine: {e}", EXIT_INTERNAL)


if __name__ == "__main__":
    main()
