/**
 * `rosetta parity --html FILE`: the parity run as one self-contained page (the comparison page's
 * document and script, src/compare/report/html.ts): per prompt the top-1 agreement, near ties, failing
 * positions, top-k logit delta and KL against the band, failing rows first; per prompt the failing and
 * tied positions with their top-k overlap and logit deltas (passing positions are not kept in results).
 */
import { htmlDocument } from "../compare/report/html.js";
import type { ParityRunResult } from "./types.js";

export function renderParityHtml(run: ParityRunResult): string {
  return htmlDocument(`rosetta parity: ${run.passed ? "PASS" : "FAIL"}`, { kind: "parity", run });
}
