/**
 * The RoPE parameters llama.cpp derives from the model's scaling metadata (llama-context.cpp cparams:
 * rope_freq_scale, yarn_ext_factor, yarn_attn_factor, n_ctx_orig_yarn) for one model.
 */
import type { ModelConfig } from "../formats/model.js";
import type { RopeOptions } from "../bindings/kernels.js";

/** llama3 per-dimension frequency divisors, as convert_hf_to_gguf writes them to rope_freqs. */
export function llama3FreqFactors(c: ModelConfig): Float32Array | null {
  const s = c.ropeScaling;
  if (s.type !== "llama3" || !(s.lowFreqFactor > 0 && s.highFreqFactor > 0 && s.origCtx > 0)) return null;
  const out = new Float32Array(c.ropeDim / 2);
  const lowWavelen = s.origCtx / s.lowFreqFactor, highWavelen = s.origCtx / s.highFreqFactor;
  for (let i = 0; i < out.length; i++) {
    const freq = 1 / Math.pow(c.ropeBase, (2 * i) / c.ropeDim);
    const wavelen = (2 * Math.PI) / freq;
    if (wavelen < highWavelen) out[i] = 1;
    else if (wavelen > lowWavelen) out[i] = s.factor;
    else {
      const smooth = (s.origCtx / wavelen - s.lowFreqFactor) / (s.highFreqFactor - s.lowFreqFactor);
      out[i] = 1 / ((1 - smooth) / s.factor + smooth);
    }
  }
  return out;
}

export function ropeOptions(c: ModelConfig, ropeFreqs: Float32Array | null): RopeOptions {
  const base: RopeOptions = {
    nDims: c.ropeDim, layout: c.ropeLayout, freqBase: c.ropeBase, freqScale: 1, extFactor: 0, attnFactor: 1,
    betaFast: 32, betaSlow: 1, nCtxOrig: c.nCtxTrain,
  };
  const s = c.ropeScaling;
  switch (s.type) {
    case "none":
      return base;
    case "linear":
      return { ...base, freqScale: 1 / s.factor };
    case "llama3": {
      // the file's rope_freqs tensor is what llama.cpp uses; computed factors only when it is absent
      const ff = ropeFreqs ?? llama3FreqFactors(c);
      return ff ? { ...base, freqFactors: ff } : base;
    }
    case "yarn": {
      // llama.cpp multiplies yarn_attn_factor by get_mscale(factor) and then cancels exactly that
      // factor (1 + 0.1 ln factor) again, leaving the metadata's attn_factor.
      const ext = s.extFactor !== undefined && s.extFactor >= 0 ? s.extFactor : 1;
      return {
        ...base, freqScale: 1 / s.factor, extFactor: ext, attnFactor: s.attnFactor ?? 1,
        betaFast: s.betaFast ?? 32, betaSlow: s.betaSlow ?? 1, nCtxOrig: s.origCtx > 0 ? s.origCtx : c.nCtxTrain,
      };
    }
  }
}
