/**
 * Counterfactual reruns: one side (the receiver, run by rosetta's engine) rerun with chosen tensors and
 * config keys taken from the other side's file (the donor), in memory, and compared again against the
 * other side's trace. The diagnosis tests its findings with it (src/compare/experiments.ts) and
 * `rosetta bisect` runs its experiments through it.
 *
 * A transplanted tensor keeps the donor's bytes and type: the engine runs every type natively, so no
 * conversion is needed, and with the same numerics on both sides a full transplant reproduces the donor
 * exactly. A repair (a tensor transposed in memory, for a side that cannot load) is an f32 copy.
 * Reruns start at the first layer an experiment touches, from the receiver's own captured input to that
 * layer (its l_out of the layer before), so the layers before it are not recomputed. The prompt step
 * (step 0) is rerun; decode steps are not (a weight or config defect shows at step 0).
 */
import { ARCHITECTURES } from "../formats/architectures.js";
import { forward, newRunState, type Model } from "../model/forward.js";
import { ropeOptions } from "../model/rope-params.js";
import { loadWeights } from "../model/weights.js";
import type { LoadedModel, ModelConfig, TensorView } from "../formats/model.js";
import { dequantize, diffMetrics, openMapping, type ByteSource, type NativeMapping, type Numerics } from "../bindings/kernels.js";
import type { F32Tensor } from "../trace/safetensors.js";
import type { Trace, TracePoint } from "../trace/types.js";
import { ARCH_DERIVED } from "../compare/config-diff.js";
import type { Lab, LabOutcome } from "../compare/experiments.js";
import type { ComparisonResult, PointResult } from "../compare/result.js";
import { transpose } from "../compare/weight-checks.js";
import { pointOfRole } from "../compare/consumers.js";

export interface LabSideInput {
  model: LoadedModel;
  numerics: Numerics;
  /** The receiver's own run (full tensors), when it could run: reruns start from its captured inputs. */
  trace?: Trace;
  tensors?: Map<string, F32Tensor>;
}

const META_PREFIX = "meta:";

type Mapping = NativeMapping;

export class EngineLab implements Lab {
  readonly candidates: string[];
  reruns = 0;
  ms = 0;
  private readonly recvMap: Mapping;
  private readonly donorMap: Mapping;
  private readonly refPoints = new Map<string, TracePoint>();
  private readonly basePoints: PointResult[];
  /** In-memory repairs by role key (an f32 copy transposed), applied to every run. */
  private readonly repairs = new Map<string, { view: TensorView; source: ByteSource }>();

  constructor(
    private readonly recv: LabSideInput,
    private readonly donor: LoadedModel,
    private readonly ref: { trace: Trace; tensors: Map<string, F32Tensor> },
    private readonly result: ComparisonResult,
    /** Which side of the report the receiver is (metrics are always against the reference side). */
    readonly receiverLabel: "A" | "B",
  ) {
    this.recvMap = openMapping(recv.model.path);
    this.donorMap = openMapping(donor.path);
    for (const p of ref.trace.points) if (p.step === 0) this.refPoints.set(p.key, p);
    this.basePoints = result.points.filter((p) => p.step === 0);
    this.candidates = candidatesOf(result, recv.model, donor);
  }

  close(): void {
    this.recvMap.close();
    this.donorMap.close();
  }

  /** Stores a repair: the receiver's tensor `key` transposed in memory (f32), used by every later run. */
  repairTranspose(key: string): boolean {
    const t = this.recv.model.byRole.get(key);
    if (!t || t.dims.length !== 2) return false;
    const [rows, cols] = t.dims;
    const data = dequantize({ source: this.recvMap, offset: t.offset, type: t.type, nElements: rows * cols, name: t.name });
    const tr = transpose(data, rows, cols);
    const view: TensorView = { ...t, dims: [cols, rows], fileDims: [rows, cols], type: 0, typeName: "F32", offset: 0, byteLength: tr.byteLength, rowBytes: undefined };
    this.repairs.set(key, { view, source: tr });
    return true;
  }

  private model(keys: string[]): Model {
    const tensors = new Set(keys.filter((k) => !k.startsWith(META_PREFIX)));
    const meta = keys.filter((k) => k.startsWith(META_PREFIX)).map((k) => k.slice(META_PREFIX.length));
    const c: ModelConfig = { ...this.recv.model.config };
    const dc = this.donor.config as unknown as Record<string, unknown>;
    const cc = c as unknown as Record<string, unknown>;
    for (const f of meta) {
      cc[f] = dc[f];
      // the architecture brings its facts (architectures.ts): RoPE layout and q/k norm
      if (f === "arch") for (const d of ARCH_DERIVED) if (d === "ropeLayout" || d === "qkNorm") cc[d] = (ARCHITECTURES[c.arch] as unknown as Record<string, unknown>)[d];
    }
    const weights = loadWeights(this.recv.model, this.recvMap, {
      config: c,
      take: (key) => {
        if (tensors.has(key)) {
          const v = this.donor.byRole.get(key) ?? (key === "output" && this.donor.config.tiedEmbeddings ? this.donor.byRole.get("token_embd") : undefined);
          return v ? { view: v, source: this.donorMap } : undefined;
        }
        return this.repairs.get(key);
      },
    });
    return { config: c, weights, arch: ARCHITECTURES[c.arch], rope: ropeOptions(c, weights.ropeFreqs), mode: this.recv.numerics };
  }

  /** The first layer an experiment touches (-1: the embedding or the config; nLayer: the output head only). */
  private startOf(keys: string[]): number {
    const n = this.recv.model.config.nLayer;
    let start = n;
    if (this.repairs.size > 0 || !this.recv.trace) return -1;
    for (const k of keys) {
      if (k.startsWith(META_PREFIX)) return -1;
      const p = pointOfRole(k);
      if (p.layer !== null) start = Math.min(start, p.layer);
      else if (p.point === "embd") return -1;
    }
    return start;
  }

  private own(key: string): Float32Array | null {
    const p = this.recv.trace?.points.find((x) => x.step === 0 && x.key === key);
    return p?.tensor ? (this.recv.tensors?.get(p.tensor)?.data ?? null) : null;
  }

  /** Captured values of the run that set the target (every point of step 0, by key). */
  private target: Map<string, Float32Array> | null = null;

  /**
   * Runs `keys` and keeps what it computes as the target: later runs report whether they reproduce it
   * exactly (`equalsTarget`), the test the minimal-set search uses.
   */
  async runTarget(keys: string[]): Promise<LabOutcome> {
    const rec = new Map<string, Float32Array>();
    const out = await this.run(keys, rec);
    if (!out.error) this.target = rec;
    return out;
  }

  async run(keys: string[], record?: Map<string, Float32Array>): Promise<LabOutcome> {
    const t0 = performance.now();
    this.reruns++;
    try {
      return this.runSync(keys, record);
    } catch (e) {
      return { matches: false, firstDivergence: null, error: (e as Error).message, ms: Math.round(performance.now() - t0) };
    } finally {
      this.ms += performance.now() - t0;
    }
  }

  private runSync(keys: string[], record?: Map<string, Float32Array>): LabOutcome {
    const t0 = performance.now();
    const m = this.model(keys);
    const tokens = this.ref.trace.input.tokens;
    let start = this.startOf(keys);
    let input: Float32Array | undefined;
    if (start >= 0) {
      input = this.own(start === 0 ? "embd" : `blk.${start - 1}.l_out`) ?? undefined;
      if (!input) start = -1;
    }
    // the points before the start are the baseline's
    let first: LabOutcome["firstDivergence"] = null;
    let worst = 0;
    let changed: string | null = null;
    if (start >= 0) {
      for (const p of this.basePoints) {
        if (p.layer !== null && p.layer >= start) break;
        if (p.layer === null && p.point !== "embd") break;
        if (p.status === "diverged" || p.status === "nonfinite") {
          first = { key: p.key, step: 0, nmse: p.all?.nmse ?? null };
          break;
        }
      }
    }
    const gates = new Map(this.basePoints.map((p) => [p.key, p.gate]));
    // exact equality with the target (bytes, so NaN compares too)
    const same = (x: Float32Array, y: Float32Array | undefined) => !!y && x.length === y.length && Buffer.compare(Buffer.from(x.buffer, x.byteOffset, x.byteLength), Buffer.from(y.buffer, y.byteOffset, y.byteLength)) === 0;
    let equalsTarget = this.target !== null;
    let computed = new Set<string>();
    const note = (key: string, x: Float32Array) => {
      computed.add(key);
      if (record) record.set(key, Float32Array.from(x));
      if (equalsTarget && this.target!.has(key) && !same(x, this.target!.get(key))) equalsTarget = false;
    };
    const st = newRunState(m.config, tokens.length);
    forward(m, tokens, st, {
      logits: "all",
      from: start >= 0 ? start : 0,
      input: start >= 0 ? input : undefined,
      capture: (point, layer, x) => {
        const key = layer === null ? point : `blk.${layer}.${point}`;
        note(key, x);
        if (changed === null) {
          const own = this.own(key);
          if (own && own.length === x.length && !same(x, own)) changed = key;
        }
        if (first) return;
        const rp = this.refPoints.get(key);
        const ref = rp?.tensor ? this.ref.tensors.get(rp.tensor)?.data : undefined;
        const g = gates.get(key);
        if (!ref || !g || ref.length !== x.length) return;
        const d = diffMetrics(ref, x);
        const T = rp!.tokens;
        const w = ref.length / T;
        const dl = point === "kq_softmax" ? d : diffMetrics(ref.subarray((T - 1) * w), x.subarray((T - 1) * w));
        const nmse = Math.max(d.nmseEnergy, dl.nmseEnergy);
        if (d.nonfinite > 0 || !(nmse <= g.band)) first = { key, step: 0, nmse: Number.isNaN(nmse) ? null : nmse };
        else worst = Math.max(worst, nmse);
      },
    });
    // the points this run did not compute are the baseline's own
    for (const p of this.recv.trace?.points ?? []) {
      if (p.step !== 0 || computed.has(p.key)) continue;
      const own = this.own(p.key);
      if (own) note(p.key, own);
    }
    computed = new Set();
    return { matches: first === null, firstDivergence: first, worstNmse: worst, firstChanged: changed, ...(this.target ? { equalsTarget } : {}), ms: Math.round(performance.now() - t0) };
  }
}

/** Everything that differs between the two files: tensors (role keys) and config keys (`meta:<field>`), in forward order. */
function candidatesOf(r: ComparisonResult, recv: LoadedModel, donor: LoadedModel): string[] {
  const t = (r.weights?.tensors ?? [])
    .filter((d) => d.status !== "identical" && d.status !== "not-compared" && d.status !== "equivalent" && recv.byRole.has(d.key))
    .filter((d) => donor.byRole.has(d.key) || (d.key === "output" && donor.config.tiedEmbeddings))
    // a type difference within the floor is the expected noise, not a candidate
    .filter((d) => d.status !== "close")
    .map((d) => d.key);
  const md = r.weights?.metadata ?? [];
  const archDiffers = md.some((m) => m.field === "arch");
  const meta = md
    .filter((m) => !["tiedEmbeddings", "qkvBias", "qkNorm", "nVocab"].includes(m.field))
    .filter((m) => !(archDiffers && m.field === "ropeLayout"))
    .map((m) => `${META_PREFIX}${m.field}`);
  const order = (k: string) => {
    if (k.startsWith(META_PREFIX)) return -2;
    const p = pointOfRole(k);
    return p.layer ?? (p.point === "embd" ? -1 : 1e9);
  };
  return [...meta, ...t].sort((x, y) => order(x) - order(y));
}
