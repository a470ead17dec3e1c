/**
 * Expected noise decides the bound. For a pair of sides, what difference is expected at each capture
 * point, and why:
 *
 *   exact  the same engine and numerics on both sides, and every tensor of the same type on both sides
 *          (or byte-identical): the computation is deterministic, so exactly zero is expected and any
 *          difference at any point is a divergence, whatever its size;
 *   band   the numerics differ (engines or modes) and/or some roles have different tensor types: the
 *          measured band applies, role by role. A point expects zero until the first point that consumes
 *          a role whose types differ (consumers.ts); from there on the band of that role's coarser type
 *          (tolerances.ts QUANT_BANDS), widened by the engine band when the numerics differ;
 *   threshold  neither is known (a saved trace without types): the threshold alone, as before.
 *
 * Equivalent reparametrizations found by the weight diff (Q/K in the other RoPE order, a zero bias
 * against none) compute the same values in the same order here, so they keep the exact regime; the
 * comparison undoes the row order (compare.ts).
 */
import { compareForward } from "./align.js";
import { consumedBy, pointOfRole } from "./consumers.js";
import type { SideInfo, WeightDiff } from "./result.js";
import { normType, precisionRank, QUANT_BANDS, selectBand, type Band } from "./tolerances.js";

export type Regime = "exact" | "band" | "threshold";

export interface PointRef {
  point: string;
  layer: number | null;
  step: number;
  key: string;
}

export interface Expectation {
  regime: Regime;
  /** One line for the report: which regime applied and why. */
  why: string;
  /** The widest band of the pair (what the report names as the band), null when none applies. */
  band: Band | null;
  /** The band at one point: 0 where exactly zero is expected. */
  at(p: PointRef): { nmse: number; id: string | null; zero: boolean };
}

function roleBand(typeA: string, typeB: string): Band {
  const ta = normType(typeA), tb = normType(typeB);
  const coarser = precisionRank(ta) <= precisionRank(tb) ? ta : tb;
  return QUANT_BANDS[coarser] ?? { id: `quant:${coarser}`, nmse: 1.5, provisional: true, basis: `no measured band for ${coarser}: a wide default` };
}

/**
 * An equivalent reparametrization computed in another order: rounding only. Measured: a llama F32 fixture
 * against its qwen2 conversion (Q/K permuted, zero biases), worst point NMSE 2.2e-14
 * (tests/compare/diagnosis-property.test.ts); 1e-9 as for a last-bit reordering (tolerances.ts
 * engine:quant-ggml), five decades over the measurement and far under any defect.
 */
export const REPARAM_BAND: Band = {
  id: "reparam:rounding",
  nmse: 1e-9,
  provisional: false,
  basis: "an equivalent reparametrization (Q/K rows in the other RoPE order) sums in another order: rounding only, measured worst 2.2e-14 (F32 llama vs its qwen2 conversion)",
};

export function expectedNoise(a: SideInfo, b: SideInfo, weights: WeightDiff | undefined, pairBand: Band | null): Expectation {
  const sameNumerics = a.engine === b.engine && String(a.settings.numerics ?? "") === String(b.settings.numerics ?? "");
  if (!weights) {
    const ta = normType(a.fileType), tb = normType(b.fileType);
    if (!pairBand && sameNumerics && ta === tb && ta !== "UNKNOWN") {
      return { regime: "exact", why: `same engine (${a.engine}), numerics and weight type (${ta}) on both sides: exactly zero difference expected at every point`, band: null, at: () => ({ nmse: 0, id: null, zero: true }) };
    }
    if (!pairBand) return { regime: "threshold", why: "no band for this pair (weight types or numerics unknown on a side): the threshold alone decides", band: null, at: () => ({ nmse: 0, id: null, zero: false }) };
    return { regime: "band", why: `band ${pairBand.id} for the pair (${pairBand.basis})`, band: pairBand, at: () => ({ nmse: pairBand.nmse, id: pairBand.id, zero: false }) };
  }
  // model files on both sides: role by role
  const typed = weights.tensors.filter((t) => t.typeA && t.typeB && normType(t.typeA) !== normType(t.typeB));
  const roles = typed.map((t) => ({ key: t.key, band: roleBand(t.typeA!, t.typeB!) }));
  // Q/K rows in the other RoPE order: the same function, but q.k sums its terms in another order
  const reparam = weights.tensors.filter((t) => t.status === "equivalent" && t.relation?.kind === "rope-permuted");
  for (const t of reparam) roles.push({ key: t.key, band: REPARAM_BAND });
  const engine = sameNumerics ? null : selectBand({ typeA: a.fileType, typeB: a.fileType, engineA: a.engine, engineB: b.engine, modeA: a.settings.numerics as string | undefined, modeB: b.settings.numerics as string | undefined });
  let widest: Band | null = engine;
  for (const r of roles) if (!widest || r.band.nmse > widest.nmse) widest = r.band;
  const at = (p: PointRef) => {
    let nmse = engine?.nmse ?? 0;
    let id = engine?.id ?? null;
    for (const r of roles) {
      if (r.band.nmse > nmse && consumedBy(r.key, p)) {
        nmse = r.band.nmse;
        id = r.band.id;
      }
    }
    return { nmse, id, zero: sameNumerics && id === null };
  };
  if (sameNumerics && roles.length === 0) {
    return { regime: "exact", why: `same engine (${a.engine}) and numerics, every tensor of the same type on both sides: exactly zero difference expected at every point`, band: null, at };
  }
  const first = roles.map((r) => ({ ...r, p: pointOfRole(r.key) }));
  const why = [
    engine ? `numerics differ (${a.engine} ${String(a.settings.numerics ?? "")} vs ${b.engine} ${String(b.settings.numerics ?? "")}): band ${engine.id} everywhere` : "same engine and numerics",
    reparam.length ? `${reparam.length} Q/K tensor(s) in the other RoPE order (an equivalent reparametrization: rounding only, band ${REPARAM_BAND.id} from ${pointOfRole(reparam[0].key).key})` : "",
    typed.length ? `${typed.length} tensor(s) differ in type (${[...new Set(typed.map((t) => `${t.typeA} vs ${t.typeB}`))].slice(0, 4).join(", ")}): their band from the first point that consumes one (${first.sort((x, y) => compareForward({ ...x.p, step: 0 }, { ...y.p, step: 0 }))[0].p.key})` : "",
  ].filter(Boolean).join("; ");
  return { regime: "band", why, band: widest, at };
}
