/**
 * One prompt's verdict from both sides' logits. Row t is the logits at position promptLen - 1 + t, the
 * one that predicts generated token t (teacher forcing: rosetta was fed the prompt plus the reference's
 * tokens, so rows stay aligned after a flip).
 */
import type { Band } from "./bands.js";
import { comparePosition, fmt, klStats } from "./compare.js";
import type { PositionResult, PromptIdentity, PromptResult } from "./types.js";

export interface PromptLogits {
  /** Row-major [generated.length, vocab]: row t predicts generated[t]. */
  ref: Float32Array;
  ros: Float32Array;
  vocab: number;
  promptLen: number;
  generated: number[];
}

export interface PromptMeta extends PromptIdentity {
  k: number;
  band: Band;
  ms?: { reference: number; rosetta: number };
  promptErrors?: string[];
}

export function comparePrompt(l: PromptLogits, m: PromptMeta): PromptResult {
  const errors = [...(m.promptErrors ?? [])];
  const need = l.generated.length;
  const have = Math.min(l.ref.length, l.ros.length) / l.vocab;
  if (l.generated.length === 0) errors.push("the reference generated no tokens");
  if (have < need) errors.push(`logit rows missing: need ${need}, llama.cpp has ${l.ref.length / l.vocab}, rosetta has ${l.ros.length / l.vocab}`);
  const positions: PositionResult[] = [];
  if (have >= need) {
    for (let t = 0; t < l.generated.length; t++) {
      const r = t * l.vocab;
      positions.push(
        comparePosition({
          tokenIdx: t,
          refToken: l.generated[t],
          ref: l.ref.subarray(r, r + l.vocab),
          ros: l.ros.subarray(r, r + l.vocab),
          k: m.k,
          band: m.band,
        }),
      );
    }
  }
  return summarize(positions, l, m, errors);
}

function summarize(positions: PositionResult[], l: PromptLogits, m: PromptMeta, errors: string[]): PromptResult {
  const kl = klStats(positions.map((p) => p.kl));
  if (positions.length > 0 && !(kl.mean <= m.band.klMean)) errors.push(`mean kl ${fmt(kl.mean)} > band ${fmt(m.band.klMean)}`);
  const failures = positions.filter((p) => p.reasons.length > 0).length;
  const maxOf = (f: (p: PositionResult) => number) => positions.reduce((a, p) => (Number.isNaN(a) || Number.isNaN(f(p)) ? NaN : Math.max(a, f(p))), 0);
  return {
    model: m.model,
    quant: m.quant,
    numerics: m.numerics,
    isa: m.isa,
    promptIdx: m.promptIdx,
    promptId: m.promptId,
    bucket: m.bucket,
    promptTokens: l.promptLen,
    genTokens: l.generated.length,
    positions: positions.length,
    top1Match: positions.filter((p) => p.top1 === "match").length,
    nearTies: positions.filter((p) => p.top1 === "near-tie").length,
    setTies: positions.filter((p) => p.setTie).length,
    failures,
    maxTopDelta: maxOf((p) => p.topDelta),
    maxFullDelta: maxOf((p) => p.fullDelta),
    kl,
    band: m.band,
    promptErrors: errors,
    details: positions.filter((p) => p.reasons.length > 0 || p.top1 !== "match" || p.setTie),
    ms: m.ms ?? { reference: 0, rosetta: 0 },
    passed: errors.length === 0 && failures === 0 && positions.length > 0,
  };
}

/** A prompt that could not be compared at all (runner error, tokenizer mismatch): always a failure. */
export function failedPrompt(m: PromptMeta, error: string): PromptResult {
  return summarize([], { ref: new Float32Array(), ros: new Float32Array(), vocab: 1, promptLen: 0, generated: [] }, m, [
    ...(m.promptErrors ?? []),
    error,
  ]);
}
