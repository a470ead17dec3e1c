"""Runs transformers' own model-addition debugger on a GGUF model loaded by transformers' GGUF loader.

usage: hf_debugger_dump.py MODEL.gguf OUT_DIR TOKEN_ID... [--repr]

Writes <Class>_debug_tree_SUMMARY.json / _FULL_TENSORS.json into OUT_DIR, with every tensor saved as a
safetensors file beside them (use_repr=False) unless --repr. Used by tests/importers/transformers-debug-real.test.ts.
"""
import os
import sys

import torch
from transformers import AutoConfig, AutoModelForCausalLM
from transformers.model_debugging_utils import model_addition_debugger_context


def main() -> None:
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    use_repr = "--repr" in sys.argv
    model, out, ids = args[0], args[1], [int(x) for x in args[2:]]
    d, f = os.path.dirname(os.path.abspath(model)), os.path.basename(model)
    cfg = AutoConfig.from_pretrained(d, gguf_file=f)
    # llama2.c-style GGUFs store pad id -1 (as u32): transformers' nn.Embedding refuses a padding_idx out of range
    if cfg.pad_token_id is not None and not 0 <= cfg.pad_token_id < cfg.vocab_size:
        cfg.pad_token_id = None
    m = AutoModelForCausalLM.from_pretrained(d, gguf_file=f, config=cfg, dtype=torch.float32)
    m.eval()
    with model_addition_debugger_context(m, debug_path=out, do_prune_layers=False, use_repr=use_repr):
        with torch.no_grad():
            m(torch.tensor([ids]))
    print(f"torch {torch.__version__} transformers {__import__('transformers').__version__}")


if __name__ == "__main__":
    main()
