"""Runs transformers' own model-addition debugger on a GGUF model loaded by transformers' GGUF loader.

usage: hf_debugger_dump.py MODEL.gguf OUT_DIR TOKEN_ID... [--repr]

Writes <Class>_debug_tree_SUMMARY.json / _FULL_TENSORS.json into OUT_DIR, with every tensor saved as a
safetensors file beside them (use_repr=False) unless --repr. Used by tests/importers/transformers-debug-real.test.ts.
"""
import sys

import torch
from transformers.model_debugging_utils import model_addition_debugger_context

from rosetta_trace.hf_engine import load


def main() -> None:
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    use_repr = "--repr" in sys.argv
    model, out, ids = args[0], args[1], [int(x) for x in args[2:]]
    # transformers' GGUF loading with the transformers engine's workarounds (pad id, head_dim)
    m, _src, _how, _adjusted = load(model, "float32")
    with model_addition_debugger_context(m, debug_path=out, do_prune_layers=False, use_repr=use_repr):
        with torch.no_grad():
            m(torch.tensor([ids]))


if __name__ == "__main__":
    main()
