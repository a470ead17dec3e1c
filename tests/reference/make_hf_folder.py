"""Test helper: a real Hugging Face model folder made from a GGUF with transformers' own GGUF loading and
save_pretrained (no download): config.json, model.safetensors, and the tokenizer files when transformers
can convert the GGUF's tokenizer.

    python make_hf_folder.py MODEL.gguf OUT_DIR
"""
import os
import sys

import torch
from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

gguf, out = sys.argv[1], sys.argv[2]
src = {"pretrained_model_name_or_path": os.path.dirname(os.path.abspath(gguf)), "gguf_file": os.path.basename(gguf)}
cfg = AutoConfig.from_pretrained(**src)
if cfg.pad_token_id is not None and not 0 <= cfg.pad_token_id < cfg.vocab_size:
    cfg.pad_token_id = None  # GGUF's "none" (-1 as u32) read as an id
from rosetta_trace.hf_engine import _gguf_head_dim  # noqa: E402  (transformers' GGUF loading misses key_length)

_gguf_head_dim(gguf, cfg)
model = AutoModelForCausalLM.from_pretrained(**src, config=cfg, dtype=torch.float32)
# transformers marks a GGUF-loaded model as "quantized with gguf" and refuses to save it; its weights are
# plain dequantized tensors by now, so drop the marker and save it as an ordinary checkpoint
model.hf_quantizer = None
for c in (model.config, cfg):
    if hasattr(c, "quantization_config"):
        delattr(c, "quantization_config")
model.save_pretrained(out)
try:
    AutoTokenizer.from_pretrained(**src).save_pretrained(out)
    print("tokenizer saved")
except Exception as e:  # a synthetic GGUF's vocabulary may not convert: the folder is still a model
    print(f"no tokenizer: {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}")
