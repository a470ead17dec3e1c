"""PyTorch forward hooks that trace a Hugging Face-style llama model with a TraceWriter.

torch is imported lazily, only when hooks are attached (the package itself needs numpy and safetensors).
The transformers engine (hf_engine.py, `--engine-a transformers`) runs on these hooks; its tests need
the torch stack that `npm run python:setup` installs (tests/reference/transformers.test.ts).

    import torch
    from transformers import AutoModelForCausalLM
    from rosetta_trace import TraceWriter
    from rosetta_trace.torch_hooks import attach_llama_hooks

    model = AutoModelForCausalLM.from_pretrained(path, torch_dtype=torch.float32).eval()
    ids = [1, 15043, 3186]
    w = TraceWriter(engine="transformers", tokens=ids, model={"arch": "llama"})
    hooks = attach_llama_hooks(model, w, full=True)
    w.step(0)
    with torch.no_grad():
        model(torch.tensor([ids]))
    hooks.remove()
    w.save("out/hf")          # then: rosetta out/hf.json model.gguf --tokens 1,15043,3186

Module names -> rosetta points (docs/capture-points.md); "in" = the module's input, else its output:

    model.embed_tokens                           embd
    model.layers.N.input_layernorm               blk.N.attn_norm
    model.layers.N.self_attn.q_proj / k / v      blk.N.q / k / v
    model.layers.N.self_attn.o_proj    in        blk.N.attn        (heads concatenated)
    model.layers.N.self_attn.o_proj              blk.N.attn_out
    model.layers.N.post_attention_layernorm in   blk.N.ffn_inp     (residual after attention)
    model.layers.N.post_attention_layernorm      blk.N.ffn_norm
    model.layers.N.mlp.gate_proj / up_proj       blk.N.ffn_gate / ffn_up
    model.layers.N.mlp.down_proj       in        blk.N.ffn_act     (silu(gate) * up)
    model.layers.N.mlp.down_proj                 blk.N.ffn_out
    model.layers.N                               blk.N.l_out
    model.norm                                   result_norm
    lm_head                                      logits

q_rope, k_rope and kq_softmax are computed functionally inside HF's attention (no module): these hooks do
not record them; hf_engine.py does, through a registered attention function.

Q/K layout: HF llama checkpoints rotate halves (i, i + d/2) of each head; GGUF llama files (llama.cpp's
converter permutes the Q/K rows per head) rotate adjacent pairs (2i, 2i+1). With qk_layout="gguf"
(default) the q and k points of llama/mistral models are permuted per head into the GGUF order, so that they compare with
rosetta or llama.cpp running the GGUF; qk_layout="hf" keeps HF's order (to compare with another HF run).
Batch size must be 1 (the writer records one sequence).
"""
from __future__ import annotations

import re
from typing import Any, Callable, List, Optional, Tuple

_LAYER = re.compile(
    r"(?:^|\.)layers\.(\d+)(?:\.(input_layernorm|post_attention_layernorm|self_attn\.[qkvo]_proj|mlp\.(?:gate|up|down)_proj))?$"
)
# model types whose GGUF conversion permutes the Q/K rows per head (llama.cpp's converter: LlamaModel
# and its subclasses); qwen2/qwen3 keep HF's split-halves order (NEOX RoPE)
PERMUTED_QK = frozenset({"llama", "mistral"})
_GLOBAL = {"embed_tokens": "embd", "norm": "result_norm", "lm_head": "logits"}
_OUT = {
    "input_layernorm": "attn_norm", "self_attn.q_proj": "q", "self_attn.k_proj": "k", "self_attn.v_proj": "v",
    "self_attn.o_proj": "attn_out", "post_attention_layernorm": "ffn_norm", "mlp.gate_proj": "ffn_gate",
    "mlp.up_proj": "ffn_up", "mlp.down_proj": "ffn_out", None: "l_out",
}
_IN = {"self_attn.o_proj": "attn", "post_attention_layernorm": "ffn_inp", "mlp.down_proj": "ffn_act"}


def point_for(module_name: str) -> List[Tuple[str, str]]:
    """[(where, point key)] for a module name: where is "in" (the module's input) or "out" (its output).

    point_for("model.layers.3.mlp.down_proj") == [("in", "blk.3.ffn_act"), ("out", "blk.3.ffn_out")];
    [] for a module that is no capture point.
    """
    m = _LAYER.search(module_name)
    if m:
        layer, sub = m.group(1), m.group(2)
        out = []
        if sub in _IN:
            out.append(("in", f"blk.{layer}.{_IN[sub]}"))
        out.append(("out", f"blk.{layer}.{_OUT[sub]}"))
        return out
    last = module_name.rsplit(".", 1)[-1]
    if last in _GLOBAL and (last == "lm_head" or module_name.endswith("model." + last) or module_name == last):
        return [("out", _GLOBAL[last])]
    return []


def _gguf_qk(x, head_dim: int):
    """[T, H*hd] in HF's half-rotation order -> llama.cpp/GGUF's adjacent-pair order, per head."""
    t, w = x.shape
    return x.reshape(t, w // head_dim, 2, head_dim // 2).swapaxes(2, 3).reshape(t, w)


class Hooks:
    """The registered hooks; remove() detaches them all."""

    def __init__(self, handles: List[Any]):
        self.handles = handles

    def remove(self) -> None:
        for h in self.handles:
            h.remove()
        self.handles = []


def attach_llama_hooks(model: Any, writer: Any, full: bool = True, qk_layout: str = "gguf",
                       head_dim: Optional[int] = None, select: Optional[Callable[[str], bool]] = None,
                       full_select: Optional[Callable[[str], bool]] = None) -> Hooks:
    """Registers forward hooks on `model` (a HF LlamaForCausalLM-like torch.nn.Module) that hand every
    mapped module's input/output to writer.point(key, array, full=full). Call writer.step(...) before each
    forward call (step 0: the prompt; decode step s: writer.step(s, token=id)). `select(key)` may skip points;
    `full_select(key)`, when given, decides per point whether its full tensor is kept (instead of `full`).
    head_dim defaults to model.config.head_dim or hidden_size // num_attention_heads.
    qk_layout="gguf" permutes q/k into GGUF's order only for the model types whose GGUF conversion permutes
    them (llama, mistral: PERMUTED_QK); qwen2/qwen3 GGUF files keep HF's order, so nothing is permuted there.
    """
    import torch  # lazy: the package itself needs numpy and safetensors only

    if qk_layout not in ("gguf", "hf"):
        raise ValueError(f"qk_layout must be 'gguf' or 'hf', got {qk_layout!r}")
    cfg = getattr(model, "config", None)
    if qk_layout == "gguf" and cfg is not None and getattr(cfg, "model_type", None) not in PERMUTED_QK:
        qk_layout = "hf"
    if head_dim is None:
        head_dim = getattr(cfg, "head_dim", None) or (cfg.hidden_size // cfg.num_attention_heads if cfg is not None else None)
    if qk_layout == "gguf" and not head_dim:
        raise ValueError("head_dim is needed to permute q/k into the GGUF order: pass head_dim=")

    def to_np(key: str, t: Any):
        if isinstance(t, (tuple, list)):
            t = t[0]
        if not isinstance(t, torch.Tensor):
            raise TypeError(f"{key}: the hooked module gave {type(t).__name__}, not a tensor")
        x = t.detach().to(torch.float32).cpu().numpy()
        if x.ndim == 3:
            if x.shape[0] != 1:
                raise ValueError(f"{key}: batch size {x.shape[0]}: trace one sequence (batch size 1)")
            x = x[0]
        if qk_layout == "gguf" and key.rsplit(".", 1)[-1] in ("q", "k"):
            x = _gguf_qk(x, head_dim)
        return x

    def record(key: str, t: Any) -> None:
        if select is None or select(key):
            writer.point(key, to_np(key, t), full=full_select(key) if full_select else full)

    handles = []
    for name, mod in model.named_modules():
        for where, key in point_for(name):
            if where == "in":
                handles.append(mod.register_forward_pre_hook(lambda _m, args, key=key: record(key, args[0])))
            else:
                handles.append(mod.register_forward_hook(lambda _m, _args, out, key=key: record(key, out)))
    if not handles:
        raise ValueError("no module of this model maps to a rosetta point (expected HF llama names: model.layers.N.self_attn.q_proj, ...)")
    return Hooks(handles)
