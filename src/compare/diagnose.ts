/**
 * From compared points (and, when both sides were model files, the weight diff) to findings in the fixed
 * vocabulary (vocabulary.ts). Order of checks: the input (tokens), then NaN/Inf, then a weight or
 * metadata defect that explains the first divergence, then the position and step signatures (Q/K path,
 * KV cache), then layer isolation, then "unexplained". The first fatal finding is the diagnosis.
 */
import type { Trace } from "../trace/types.js";
import { compareForward } from "./align.js";
import { pointOfRole } from "./consumers.js";
import { fmt } from "./format.js";
import { worstNmse } from "./metrics.js";
import { finding, NOT_FAILING, type Finding, type PointResult, type SideInfo, type WeightDiff } from "./result.js";
import type { Band } from "./tolerances.js";

/** Result of rerunning one layer of side A on side B's input to that layer. */
export interface IsolationResult {
  layer: number;
  /** NMSE of the isolated layer output against B's output of that layer (l_out). */
  nmse: number;
  /** NMSE of A's own (propagated) output of that layer against B's. */
  propagatedNmse: number;
}

export interface DiagnoseInput {
  a: SideInfo;
  b: SideInfo;
  traceA: Trace;
  traceB: Trace;
  points: PointResult[];
  firstDivergence: PointResult | null;
  weights?: WeightDiff;
  /** Config differences found between two traces (when no weight diff covers them). */
  configFindings?: Finding[];
  band: Band | null;
  isolate?: (layer: number, step: number) => Promise<IsolationResult | null>;
}


function inputFindings(d: DiagnoseInput): Finding[] {
  const ta = d.a.tokens.join(", ");
  const tb = d.b.tokens.join(", ");
  if (ta === tb) return [];
  const pa = d.traceA.input.prompt;
  const samePrompt = pa !== undefined && pa === d.traceB.input.prompt;
  const ev = [`A token ids: [${ta}]`, `B token ids: [${tb}]`];
  if (samePrompt) return [finding("tokenizer-mismatch", "input", null, [`prompt ${JSON.stringify(pa)} tokenized differently`, ...ev])];
  return [finding("sample-mismatch", "input", null, ["the two traces were captured on different inputs", ...ev])];
}

function sampleFindings(d: DiagnoseInput): Finding[] {
  const sm = d.points.filter((p) => p.status === "sample-mismatch");
  if (sm.length === 0 || d.a.tokens.join() !== d.b.tokens.join()) return [];
  const p = sm[0];
  return [finding("sample-mismatch", p.key, p.layer, [`${sm.length} point(s) not compared; first: ${p.key} step ${p.step}: ${p.note ?? ""}`], true, p.step)];
}

/** Weight findings ordered by where they first show in the forward pass. */
function weightFindings(w: WeightDiff | undefined, config: Finding[] = []): Finding[] {
  if (!w && config.length === 0) return [];
  const pos = (f: Finding) => {
    const p = f.layer === null && f.where === "metadata" ? { point: "embd", layer: null } : pointOfRole(f.where);
    return { point: p.point, layer: p.layer, step: 0, key: f.where };
  };
  return [...config, ...(w?.findings ?? [])].sort((x, y) => compareForward(pos(x), pos(y)));
}

function nonfiniteFinding(p: PointResult): Finding {
  return finding("nonfinite", p.key, p.layer, [`first NaN/Inf at ${p.key} step ${p.step}: ${p.note ?? ""}`], true, p.step);
}

function qkPath(d: DiagnoseInput, fd: PointResult): Finding | null {
  if (fd.layer === null || fd.step !== 0) return null;
  const same = (pt: string) => d.points.find((p) => p.step === 0 && p.layer === fd.layer && p.point === pt);
  const attn = same("attn");
  if (!attn?.perToken || attn.perToken.length < 2) return null;
  const thr = attn.gate.band;
  const tok0Clean = attn.perToken[0] <= thr;
  const laterBad = attn.perToken.slice(1).some((x) => x > thr);
  if (!tok0Clean || !laterBad) return null;
  const ev = [
    `attention output of layer ${fd.layer}: token 0 NMSE ${fmt(attn.perToken[0])} (clean), later tokens ${attn.perToken.slice(1).map(fmt).join(", ")}`,
    "at position 0 RoPE is the identity and attention sees one key, so only the Q/K path can leave token 0 clean",
  ];
  const qk = ["q", "k"].map(same).filter((p) => p && !NOT_FAILING.has(p.status));
  if (qk.length === 0) {
    return finding("rope-layout-mismatch", fd.key, fd.layer, [...ev, "q and k match before RoPE and differ after it: the rotation itself differs (variant, base or dims)"]);
  }
  return finding("qk-rope-permutation", fd.key, fd.layer, [...ev, `${qk.map((p) => p!.key).join(" and ")} already differ before RoPE: Q/K rows are ordered differently`]);
}

function kvDrift(d: DiagnoseInput, fd: PointResult): Finding | null {
  if (fd.step === 0) return null;
  const prompt = d.points.filter((p) => p.step === 0);
  if (prompt.length === 0 || prompt.some((p) => p.status === "diverged" || p.status === "nonfinite")) return null;
  const bySteps = new Map<number, number>();
  for (const p of d.points) {
    const w = worstNmse(p.all, p.last);
    if (w !== null) bySteps.set(p.step, Math.max(bySteps.get(p.step) ?? 0, w));
  }
  const steps = [...bySteps.entries()].sort((x, y) => x[0] - y[0]);
  return finding("kv-cache-drift", fd.key, fd.layer, [
    "the prompt step (0) matches at every point; decode steps diverge",
    `worst NMSE per step: ${steps.map(([s, v]) => `${s}: ${fmt(v)}`).join(", ")}`,
  ], true, fd.step);
}

function driftFinding(d: DiagnoseInput): Finding | null {
  const drift = d.points.filter((p) => p.status === "drift");
  if (drift.length === 0) return null;
  const worst = drift.reduce((m, p) => ((worstNmse(p.all, p.last) ?? 0) > (worstNmse(m.all, m.last) ?? 0) ? p : m));
  const band = d.band;
  return finding("precision-drift", worst.key, worst.layer, [
    `${drift.length} point(s) above the threshold ${fmt(worst.gate.threshold)} but inside band ${band?.id ?? "?"} (NMSE <= ${fmt(worst.gate.band)}${band?.provisional ? ", provisional" : ""})`,
    `worst: ${worst.key} step ${worst.step}, NMSE ${fmt(worstNmse(worst.all, worst.last))}`,
    `A weights ${d.a.fileType ?? "?"} on ${d.a.engine}, B weights ${d.b.fileType ?? "?"} on ${d.b.engine}`,
  ], false, worst.step);
}

const PASSING_EXACT = (p: PointResult) => p.status === "match" && (p.all?.nmse ?? 1) === 0;

async function isolationEvidence(d: DiagnoseInput, fd: PointResult): Promise<string[]> {
  if (!d.isolate || fd.layer === null) return [];
  const r = await d.isolate(fd.layer, fd.step);
  if (!r) return [];
  const wrong = r.nmse > fd.gate.band;
  // nothing can be inherited at layer 0, or after a layer whose output matched
  const prev = r.layer === 0 ? null : d.points.find((p) => p.step === fd.step && p.key === `blk.${r.layer - 1}.l_out`);
  const cleanInput = r.layer === 0 || (prev !== undefined && prev !== null && PASSING_EXACT(prev));
  const verdict = wrong
    ? "the layer itself is wrong"
    : cleanInput
      ? "the layer's output is within the gate on the same input, and its input matched: the divergence is below what isolation resolves"
      : "the layer is fine on the same input; the divergence is drift inherited from earlier layers";
  return [`layer isolation: layer ${r.layer} of A run on B's input gives NMSE ${fmt(r.nmse)} against B (propagated: ${fmt(r.propagatedNmse)}): ${verdict}`];
}

/** Findings for a comparison, most relevant first. */
export async function diagnose(d: DiagnoseInput): Promise<Finding[]> {
  const out: Finding[] = [...inputFindings(d)];
  const wf = weightFindings(d.weights, d.configFindings);
  const fd = d.firstDivergence;
  if (fd && out.length === 0) {
    if (fd.status === "nonfinite") out.push(nonfiniteFinding(fd));
    const explaining = wf.find((f) => f.fatal && compareForward(pointOfRoleOrMeta(f), { ...fd, point: String(fd.point) }) <= 0);
    if (explaining) {
      explaining.evidence.push(`first divergence: ${fd.key} step ${fd.step} (NMSE ${fmt(worstNmse(fd.all, fd.last))})`);
      out.push(explaining);
    }
    const sig = explaining ? null : (qkPath(d, fd) ?? kvDrift(d, fd));
    if (sig) out.push(sig);
    const iso = await isolationEvidence(d, fd);
    if (out.length === 0 || (out.length === 1 && out[0].id === "nonfinite" && fd.status !== "nonfinite")) {
      out.push(finding("unexplained-divergence", fd.key, fd.layer, [`first divergence: ${fd.key} step ${fd.step}, NMSE ${fmt(worstNmse(fd.all, fd.last))} (basis: ${fd.all?.basis ?? "n/a"})`, ...iso], true, fd.step));
    } else if (iso.length) out[out.length - 1].evidence.push(...iso);
  }
  out.push(...sampleFindings(d).filter(() => !out.some((f) => f.id === "sample-mismatch")));
  for (const f of wf) if (!out.includes(f)) out.push(f);
  const drift = driftFinding(d);
  if (drift) out.push(drift);
  return out;
}

function pointOfRoleOrMeta(f: Finding): { point: string; layer: number | null; step: number; key: string } {
  if (f.where === "metadata") {
    const p = f.evidence.some((e) => /rope/i.test(e)) ? "q_rope" : "attn_norm";
    return { point: p, layer: 0, step: 0, key: `blk.0.${p}` };
  }
  const p = pointOfRole(f.where);
  return { point: p.point, layer: p.layer, step: 0, key: p.key };
}
