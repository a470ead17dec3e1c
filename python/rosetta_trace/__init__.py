"""rosetta_trace: write rosetta traces from any engine (docs/trace-format.md, "Writing traces from Python").

    from rosetta_trace import TraceWriter
    w = TraceWriter(engine="myengine", tokens=[1, 2, 3], model={"arch": "llama"})
    w.step(0)
    w.point("blk.0.attn_norm", h, full=True)   # [T, width]; kq_softmax: [heads, T, kv]
    w.save("out/myengine")                      # out/myengine.json (+ .safetensors)
"""
from .writer import TraceWriter, summarize, LAYER_POINTS, GLOBAL_POINTS, TRACE_FORMAT, TRACE_FORMAT_VERSION

__all__ = ["TraceWriter", "summarize", "LAYER_POINTS", "GLOBAL_POINTS", "TRACE_FORMAT", "TRACE_FORMAT_VERSION"]
__version__ = "0.1.0"
