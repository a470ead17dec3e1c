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
 * layer (its l_out of the layer before), so the layers before it are not recomputed. Decode steps are
 * rerun too, consuming the tokens the receiver consumed (with teacher forcing, the reference's), each
 * from the same layer on the receiver's own input to it at that step.
 */
import { ARCHITECTURES } from "../formats/architectures.js";
import { forward, newRunState, type Model } from "../model/forward.js";
import { ropeOptions } from "../model/rope-params.js";
import { loadWeights } from "../model/weights.js";
import type { LoadedModel, ModelConfig, TensorView } from "../formats/model.js";
import { dequantize, diffMetrics, type ByteSource, type Numerics } from "../bindings/kernels.js";
import { ModelBytes } from "../formats/bytes.js";
import type { F32Tensor } from "../trace/safetensors.js";
import { lastTokenSlice, type Trace, type TracePoint } from "../trace/types.js";
import { ARCH_DERIVED } from "../compare/config-diff.js";
import type { Lab, LabOutcome } from "../compare/experiments.js";
import { permuteFeatures } from "../compare/compare.js";
import type { ComparisonResult, PointResult } from "../compare/result.js";
import { permuteHeads, transpose } from "../compare/weight-checks.js";
import { pointOfRole } from "../compare/consumers.js";

export interface LabSideInput {
  model: LoadedModel;
  numerics: Numerics;
  /** The receiver's own run (full tensors), when it could run: reruns start from its captured inputs. */
  trace?: Trace;
  tensors?: Map<string, F32Tensor>;
}

const META_PREFIX = "meta:";

export class EngineLab implements Lab {
  readonly candidates: string[];
  reruns = 0;
  ms = 0;
  private readonly recvBytes: ModelBytes;
  private readonly donorBytes: ModelBytes;
  private readonly refPoints = new Map<string, TracePoint>();
  private readonly basePoints: PointResult[];
  /** The reference has attention probabilities: reruns keep theirs to compare. */
  private readonly kq: boolean;
  /** In-memory repairs by role key (an f32 copy transposed), applied to every run. */
  private readonly repairs = new Map<string, { view: TensorView; source: ByteSource }>();

  constructor(
    private readonly recv: LabSideInput,
    private readonly donor: LoadedModel,
    private readonly ref: { trace: Trace; tensors: Map<string, F32Tensor> },
    result: ComparisonResult,
    /** Which side of the report the receiver is (metrics are always against the reference side). */
    readonly receiverLabel: "A" | "B",
  ) {
    this.recvBytes = new ModelBytes(recv.model.path);
    this.donorBytes = new ModelBytes(donor.path);
    for (const p of ref.trace.points) this.refPoints.set(`${p.step}|${p.key}`, p);
    this.kq = ref.trace.points.some((p) => p.point === "kq_softmax");
    this.basePoints = result.points;
    this.candidates = candidatesOf(result, recv.model, donor);
  }

  close(): void {
    this.recvBytes.close();
    this.donorBytes.close();
  }

  /** Stores a repair: the receiver's tensor `key` transposed in memory (f32), used by every later run. */
  repairTranspose(key: string): boolean {
    const t = this.recv.model.byRole.get(key);
    if (!t || t.dims.length !== 2) return false;
    const [rows, cols] = t.dims;
    const data = dequantize({ source: this.recvBytes.source(t), offset: t.offset, type: t.type, nElements: rows * cols, name: t.name });
    const tr = transpose(data, rows, cols);
    const view: TensorView = { ...t, dims: [cols, rows], fileDims: [rows, cols], type: 0, typeName: "F32", offset: 0, byteLength: tr.byteLength, rowBytes: undefined };
    this.repairs.set(key, { view, source: tr });
    return true;
  }

  /**
   * Stores a repair: the receiver's Q/K tensor `key` (weight or bias) with its rows permuted within each head
   * into the receiver's own RoPE order (f32, in memory), as a converter that permutes for the layout would.
   */
  repairRopeRows(key: string): boolean {
    const t = this.recv.model.byRole.get(key);
    const c = this.recv.model.config;
    if (!t || !/attn_[qk](_bias)?$/.test(key)) return false;
    const n = t.dims.reduce((x, y) => x * y, 1);
    const cols = t.dims.length === 2 ? t.dims[1] : 1;
    const data = dequantize({ source: this.recvBytes.source(t), offset: t.offset, type: t.type, nElements: n, name: t.name });
    const nHead = /attn_q/.test(key) ? c.nHead : c.nHeadKv;
    const p = permuteHeads(data, nHead, cols, c.ropeLayout === "neox");
    const view: TensorView = { ...t, type: 0, typeName: "F32", offset: 0, byteLength: p.byteLength, rowBytes: undefined };
    this.repairs.set(key, { view, source: p });
    return true;
  }

  /** Forgets the repairs of `keys` (later runs read the stored tensors again). */
  dropRepairs(keys: string[]): void {
    for (const k of keys) this.repairs.delete(k);
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
    const weights = loadWeights(this.recv.model, this.recvBytes, {
      config: c,
      take: (key) => {
        if (tensors.has(key)) {
          const v = this.donor.byRole.get(key) ?? (key === "output" && this.donor.config.tiedEmbeddings ? this.donor.byRole.get("token_embd") : undefined);
          return v ? { view: v, source: this.donorBytes.source(v) } : undefined;
        }
        return this.repairs.get(key);
      },
    });
    return { config: c, weights, arch: ARCHITECTURES[c.arch], rope: ropeOptions(c, weights.ropeFreqs), mode: this.recv.numerics, exactLayers: this.exactLayers };
  }

  /** The first layer an experiment touches (-1: the embedding or the config; nLayer: the output head only). */
  private startOf(keys: string[]): number {
    const n = this.recv.model.config.nLayer;
    let start = n;
    if (this.repairs.size > 0 || !this.recv.trace) return -1;
    for (const l of this.exactLayers) start = Math.min(start, l);
    for (const k of keys) {
      if (k.startsWith(META_PREFIX)) return -1;
      const p = pointOfRole(k);
      if (p.layer !== null) start = Math.min(start, p.layer);
      else if (p.point === "embd") return -1;
    }
    return start;
  }

  private own(key: string, step = 0): Float32Array | null {
    const p = this.recv.trace?.points.find((x) => x.step === step && x.key === key);
    return p?.tensor ? (this.recv.tensors?.get(p.tensor)?.data ?? null) : null;
  }

  get nLayer(): number {
    return this.recv.model.config.nLayer;
  }

  /** Layers of the receiver run in exact numerics in every later run (bisect's `exact`). */
  readonly exactLayers = new Set<number>();

  /** The receiver's own captured tensor of a point of step 0, and the reference's. */
  ownTensor(key: string): Float32Array | null {
    return this.own(key);
  }

  refTensor(key: string): Float32Array | null {
    const rp = this.refPoints.get(`0|${key}`);
    return rp?.tensor ? (this.ref.tensors.get(rp.tensor)?.data ?? null) : null;
  }

  /**
   * Layer isolation: the receiver's layer `layer` (with `keys` transplanted) run alone on the reference's
   * input to it (its l_out of the layer before, or embd), each point compared with the reference's.
   */
  isolate(layer: number, keys: string[]): { key: string; nmse: number; within: boolean }[] {
    const input = this.refTensor(layer === 0 ? "embd" : `blk.${layer - 1}.l_out`);
    if (!input) throw new Error(`the reference has no full tensor of ${layer === 0 ? "embd" : `blk.${layer - 1}.l_out`}`);
    const m = this.model(keys);
    const T = input.length / m.config.nEmbd;
    const gates = new Map(this.basePoints.filter((p) => p.step === 0).map((p) => [p.key, p.gate]));
    const out: { key: string; nmse: number; within: boolean }[] = [];
    forward(m, new Array<number>(T).fill(0), newRunState(m.config, T), {
      from: layer, to: layer + 1, input, logits: "all", head: false,
      capture: (point, l, x) => {
        const key = `blk.${l}.${point}`;
        const ref = this.refTensor(key);
        if (!ref || ref.length !== x.length) return;
        const nmse = diffMetrics(ref, x).nmseEnergy;
        out.push({ key, nmse, within: nmse <= (gates.get(key)?.band ?? 0) });
      },
    });
    return out;
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
    // decode steps: the tokens the receiver consumed (teacher forcing makes them the reference's too)
    const consumed = this.recv.trace?.input.generated ?? [];
    const steps = 1 + (this.recv.trace ? Math.min(consumed.length, this.ref.trace.input.generated.length) : 0);
    let start = this.startOf(keys);
    // a start past layer 0 needs the receiver's own input to that layer at every step
    const inputAt = (step: number) => (start >= 0 ? (this.own(start === 0 ? "embd" : `blk.${start - 1}.l_out`, step) ?? undefined) : undefined);
    if (start >= 0) for (let s = 0; s < steps; s++) if (!inputAt(s)) start = -1;
    const gates = new Map(this.basePoints.map((p) => [`${p.step}|${p.key}`, p.gate]));
    // exact equality (bytes, so NaN compares too)
    const same = (x: Float32Array, y: Float32Array | undefined) => !!y && x.length === y.length && Buffer.compare(Buffer.from(x.buffer, x.byteOffset, x.byteLength), Buffer.from(y.buffer, y.byteOffset, y.byteLength)) === 0;
    let first: LabOutcome["firstDivergence"] = null;
    let worst = 0;
    let changed: string | null = null;
    let equalsTarget = this.target !== null;
    const within = new Map<string, boolean>();
    const computed = new Set<string>();
    const note = (id: string, x: Float32Array) => {
      computed.add(id);
      if (record) record.set(id, Float32Array.from(x));
      if (equalsTarget && this.target!.has(id) && !same(x, this.target!.get(id))) equalsTarget = false;
    };
    // the baseline's points before the start (not recomputed) may already diverge
    const baseFirst = (step: number) => {
      if (start < 0) return null;
      for (const p of this.basePoints) {
        if (p.step !== step) continue;
        if (p.layer !== null ? p.layer >= start : p.point !== "embd") break;
        if (p.status === "diverged" || p.status === "nonfinite") return { key: p.key, step, nmse: p.all?.nmse ?? null };
      }
      return null;
    };
    // the reference's RoPE layout differs (a Hugging Face folder against its llama GGUF, an architecture
    // relabel): q/k/q_rope/k_rope are compared modulo the row order within heads, as the comparison does
    const rc = m.config;
    const modulo = rc.ropeLayout !== this.donor.config.ropeLayout;
    const aligned = (point: string, x: Float32Array, ref: Float32Array): Float32Array => {
      if (!modulo || !(point === "q" || point === "k" || point === "q_rope" || point === "k_rope")) return x;
      const p = permuteFeatures(x, point.startsWith("q") ? rc.nHead : rc.nHeadKv, rc.headDim, rc.ropeLayout === "norm");
      // before RoPE either order is a valid storage; after it the order is fixed by each side's layout
      return (point === "q" || point === "k") && diffMetrics(ref, x).nmseEnergy <= diffMetrics(ref, p).nmseEnergy ? x : p;
    };
    const st = newRunState(m.config, tokens.length + steps - 1);
    for (let step = 0; step < steps; step++) {
      first ??= baseFirst(step);
      const batch = step === 0 ? tokens : [consumed[step - 1]];
      forward(m, batch, st, {
        keepKq: this.kq,
        logits: step === 0 ? "all" : "last",
        from: start >= 0 ? start : 0,
        input: inputAt(step),
        capture: (point, layer, x) => {
          const key = layer === null ? point : `blk.${layer}.${point}`;
          const id = `${step}|${key}`;
          note(id, x);
          if (changed === null) {
            const own = this.own(key, step);
            if (own && own.length === x.length && !same(x, own)) changed = step === 0 ? key : `${key}@${step}`;
          }
          const rp = this.refPoints.get(id);
          const ref = rp?.tensor ? this.ref.tensors.get(rp.tensor)?.data : undefined;
          const g = gates.get(id);
          if (!ref || !g || ref.length !== x.length) return;
          const xa = aligned(point, x, ref);
          const d = diffMetrics(ref, xa);
          const last = (y: Float32Array) => lastTokenSlice(y, point, rp!.shape, rp!.tokens);
          const dl = diffMetrics(last(ref), last(xa));
          const nmse = Math.max(d.nmseEnergy, dl.nmseEnergy);
          const ok = d.nonfinite === 0 && nmse <= g.band;
          within.set(id, ok);
          if (!ok) first ??= { key, step, nmse: Number.isNaN(nmse) ? null : nmse };
          else worst = Math.max(worst, nmse);
        },
      });
    }
    // the points this run did not compute are the baseline's own
    for (const p of this.recv.trace?.points ?? []) {
      const id = `${p.step}|${p.key}`;
      if (p.step >= steps || computed.has(id)) continue;
      const own = this.own(p.key, p.step);
      if (own) note(id, own);
    }
    // the points not recomputed keep the comparison's status
    for (const p of this.basePoints) {
      const id = `${p.step}|${p.key}`;
      if (!within.has(id) && p.all) within.set(id, p.status !== "diverged" && p.status !== "nonfinite");
    }
    return { matches: first === null, firstDivergence: first, worstNmse: worst, firstChanged: changed, within, ...(this.target ? { equalsTarget } : {}), ms: Math.round(performance.now() - t0) };
  }
}

/** Everything that differs between the two files: tensors (role keys) and config keys (`meta:<field>`), in forward order. */
function candidatesOf(r: ComparisonResult, recv: LoadedModel, donor: LoadedModel): string[] {
  const t = (r.weights?.tensors ?? [])
    .filter((d) => d.status !== "identical" && d.status !== "sampled-identical" && d.status !== "not-compared" && d.status !== "equivalent" && recv.byRole.has(d.key))
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
