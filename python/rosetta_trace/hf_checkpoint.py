"""Make a Hugging Face checkpoint folder from a GGUF file with transformers' own GGUF loading.

    python -m rosetta_trace.hf_checkpoint MODEL.gguf OUT_DIR [--dtype float32|float16|bfloat16]
        [--max-shard-size 500KB]
    python -m rosetta_trace.hf_checkpoint --batch JOBS.json   # [{"gguf", "out", "dtype"?, "max_shard_size"?}, ...]

`AutoConfig` / `AutoModelForCausalLM` / `AutoTokenizer.from_pretrained(dir, gguf_file=...)` read the GGUF
(quantized types are dequantized by the `gguf` package), then `save_pretrained` writes config.json,
*.safetensors (sharded with model.safetensors.index.json when --max-shard-size is smaller than the
model) and tokenizer.json. Nothing is downloaded. Needs torch, transformers, gguf and accelerate
(transformers refuses GGUF loading without accelerate).

What this works around, and why (docs/hf-checkpoints.md):
- a special token id outside the vocabulary (llama.cpp's older conversions write -1 as uint32
  4294967295 for "no padding token", e.g. stories260K): transformers would index the token list with
  it; such ids are dropped from the config and the tokenizer (they name no token).
- the head dim (<arch>.attention.key_length) is not carried into the config by transformers' GGUF
  mapping; Qwen3Config's default (128) would then not match the tensors: it is set from the file.
- the model comes back marked as "quantized with gguf" although its weights are plain floats after
  loading; the mark is removed so that save_pretrained writes it.

Exit status 0 on success (one JSON line per folder on stdout); 2 with one line on stderr for bad input
(a missing file, a GGUF transformers' GGUF loading refuses: version, architecture, tensor type).
"""
from __future__ import annotations

import argparse
import json
import os
import sys

SPECIAL_KEYS = ("bos_token_id", "eos_token_id", "unknown_token_id", "padding_token_id", "separator_token_id", "mask_token_id", "eot_token_id")


def _drop_out_of_range_special_ids() -> None:
    """Wrap transformers' GGUF metadata reader so special token ids outside the vocabulary are absent."""
    from transformers.integrations.gguf import reader

    if getattr(reader.read_gguf_metadata, "_rosetta_wrapped", False):
        return
    original = reader.read_gguf_metadata

    def read(gguf_path, string_arrays=()):
        metadata, names = original(gguf_path, string_arrays)
        tokens = metadata.get("tokenizer.ggml.tokens")
        n = len(tokens) if isinstance(tokens, (list, tuple)) else tokens if isinstance(tokens, int) else None
        for k in SPECIAL_KEYS:
            key = f"tokenizer.ggml.{k}"
            v = metadata.get(key)
            if isinstance(v, int) and n is not None and not (0 <= v < n):
                del metadata[key]
        return metadata, names

    read._rosetta_wrapped = True  # type: ignore[attr-defined]
    reader.read_gguf_metadata = read


def _carry_head_dim(config, gguf_path: str) -> None:
    """transformers' GGUF config mapping drops <arch>.attention.key_length: Qwen3Config then keeps its
    default head_dim (128) whatever the file says. The file's value is carried over, as the transformers
    engine does (rosetta_trace.hf_engine._gguf_head_dim)."""
    if hasattr(config, "head_dim"):
        from rosetta_trace.hf_engine import _gguf_head_dim

        _gguf_head_dim(gguf_path, config)


def make_checkpoint(gguf_path: str, out_dir: str, dtype: str = "float32", max_shard_size: str | None = None) -> dict:
    """Write the HF folder; returns a summary (architecture, dtype, files) for the caller to print."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    torch_dtype = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}[dtype]
    _drop_out_of_range_special_ids()
    d, f = os.path.split(os.path.abspath(gguf_path))
    config = AutoConfig.from_pretrained(d, gguf_file=f)
    _carry_head_dim(config, gguf_path)
    for attr in ("pad_token_id", "bos_token_id", "eos_token_id"):
        v = getattr(config, attr, None)
        if isinstance(v, int) and not (0 <= v < config.vocab_size):
            setattr(config, attr, None)
    model = AutoModelForCausalLM.from_pretrained(d, gguf_file=f, config=config, dtype=torch_dtype)
    # the weights are dequantized floats now; the "quantized with gguf" mark only blocks saving
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    kwargs = {"max_shard_size": max_shard_size} if max_shard_size else {}
    model.save_pretrained(out_dir, **kwargs)
    tok = AutoTokenizer.from_pretrained(d, gguf_file=f)
    tok.save_pretrained(out_dir)
    return {
        "architecture": type(model).__name__,
        "model_type": model.config.model_type,
        "dtype": dtype,
        "files": sorted(os.listdir(out_dir)),
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m rosetta_trace.hf_checkpoint", description=__doc__.split("\n\n")[0])
    p.add_argument("gguf", nargs="?")
    p.add_argument("out", nargs="?")
    p.add_argument("--batch", help="a JSON file listing several jobs (one process, transformers imported once)")
    p.add_argument("--dtype", choices=["float32", "float16", "bfloat16"], default="float32")
    p.add_argument("--max-shard-size", default=None, help="e.g. 500KB: shard the safetensors (index file written)")
    a = p.parse_args(argv)
    if a.batch:
        with open(a.batch) as fh:
            jobs = json.load(fh)
    elif a.gguf and a.out:
        jobs = [{"gguf": a.gguf, "out": a.out, "dtype": a.dtype, "max_shard_size": a.max_shard_size}]
    else:
        p.print_usage(sys.stderr)
        return 2
    for j in jobs:
        if not os.path.isfile(j["gguf"]):
            print(f"hf_checkpoint: {j['gguf']}: no such file", file=sys.stderr)
            return 2
    try:
        import torch  # noqa: F401
        import transformers  # noqa: F401
    except ImportError as e:
        print(f"hf_checkpoint: needs torch and transformers ({e})", file=sys.stderr)
        return 2
    for j in jobs:
        try:
            info = make_checkpoint(j["gguf"], j["out"], j.get("dtype") or "float32", j.get("max_shard_size"))
        except (ValueError, KeyError, NotImplementedError, RuntimeError) as e:
            msg = " ".join(str(e).split())[:300]
            print(f"hf_checkpoint: {j['gguf']}: transformers cannot load this GGUF ({type(e).__name__}: {msg})", file=sys.stderr)
            return 2
        print(json.dumps(info))
    return 0


if __name__ == "__main__":
    sys.exit(main())
