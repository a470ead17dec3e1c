/**
 * `rosetta bisect`: an interactive session over one comparison. Both sides are loaded and compared once
 * (openComparison); then each command reads the result (`overview`, `point`, `weights`, `config`) or runs
 * a counterfactual experiment through the lab (`take`: the receiver side rerun with tensors or config
 * keys taken from the other file), with undo/redo over the transplanted set and `auto` (ddmin over
 * everything that differs down to a minimal set whose transplant makes every point match).
 *
 * The session knows no terminal: it takes a line, writes its answer through `out`, and says whether the
 * line was understood. The CLI (src/cli/commands/BisectCommand.ts) drives it from a prompt or a script.
 */
import { writeFileAtomic } from "../util/atomic.js";

import { keyFilter } from "../model/capture.js";
import { setIsa, setThreads } from "../bindings/kernels.js";
import type { LoadedModel } from "../formats/model.js";
import { ddmin, type LabOutcome } from "../compare/experiments.js";
import { describe as describeTensor, fmt, showMeta } from "../compare/format.js";
import { pointOfRole } from "../compare/consumers.js";
import type { ComparisonResult, PointResult } from "../compare/result.js";
import type { EngineLab } from "./lab.js";
import type { ComparisonSession } from "./run-comparison.js";

export const COMMANDS: Record<string, { usage: string; help: string }> = {
  help: { usage: "help [CMD]", help: "list the commands, or explain one" },
  overview: { usage: "overview", help: "the comparison's first divergence, diagnosis and counts" },
  point: { usage: "point KEY[@STEP]", help: "one capture point in detail (e.g. blk.1.ffn_out, logits@3): status, NMSE all/last token, per-token NMSE, the worst elements (index, A, B) and a histogram of the differences" },
  steps: { usage: "steps", help: "decode steps: per step the worst NMSE, the first divergent point and its layer, and the first top-token flip" },
  weights: { usage: "weights [LAYER]", help: "weight-diff rows of a layer (no LAYER: every tensor that differs), status and note" },
  config: { usage: "config", help: "the two configs' differences" },
  take: {
    usage: "take KEY...",
    help: "rerun with these tensors (role keys: blk.3.attn_k, *.attn_k for every layer, blk.3.* for a whole layer) or config keys (meta:rmsEps) taken from the other side, added to the current set",
  },
  exact: { usage: "exact LAYERS|head|all|none", help: "run these layers of the rerun side in exact numerics (f32 activations, f64 sums), e.g. exact 3, exact 0-5, exact head (final norm and logits), exact all: does the divergence go away (precision) or stay (a bug)?" },
  isolate: { usage: "isolate LAYER", help: "run one layer of the rerun side alone on the other side's input to it (teacher forcing): is the layer itself wrong, or its input?" },
  isa: { usage: "isa scalar|avx2|avx512", help: "force the kernels' instruction set and rerun: ggml numerics are bit-identical across ISAs, so any change is a kernel bug" },
  threads: { usage: "threads N", help: "set the thread count and rerun (results must not change)" },
  undo: { usage: "undo", help: "back to the set before the last take/auto/reset" },
  redo: { usage: "redo", help: "redo what undo undid" },
  reset: { usage: "reset", help: "empty the transplanted set (the comparison as it was)" },
  history: { usage: "history", help: "the experiments run so far and their outcomes" },
  auto: { usage: "auto", help: "search a minimal set of differing tensors/keys that explains the difference (ddmin: taking just it reproduces taking everything, at every point); with decode steps, first the first step whose top token or a point diverges, and the first layer at that step" },
  save: { usage: "save FILE", help: "write this session's commands as a script (rosetta bisect A B --script FILE replays it)" },
  quit: { usage: "quit", help: "leave (also exit, Ctrl-D)" },
};

export interface Experiment {
  command: string;
  set: string[];
  outcome: LabOutcome;
}

export interface ExecResult {
  /** The line was understood (false: unknown command, bad argument). */
  ok: boolean;
  quit?: boolean;
}

export interface AutoResult {
  minimal: string[] | null;
  reruns: number;
  ms: number;
  matches: boolean;
}

const META = "meta:";

/** Where a role key sits in the forward pass (for ordering sets). */
function order(k: string): number {
  if (k.startsWith(META)) return -2;
  const p = pointOfRole(k);
  return p.layer ?? (p.point === "embd" ? -1 : 1e9);
}

const sortKeys = (ks: Iterable<string>) => [...new Set(ks)].sort((x, y) => order(x) - order(y) || (x < y ? -1 : x > y ? 1 : 0));

export class BisectSession {
  readonly result: ComparisonResult;
  readonly lab: EngineLab | null;
  /** Every key `take` accepts: role keys both files have, and `meta:<field>` of the config. */
  readonly keys: string[];
  private set: string[] = [];
  private undoStack: string[][] = [];
  private redoStack: string[][] = [];
  readonly experiments: Experiment[] = [];
  /** The commands understood so far (what `save` writes). */
  readonly script: string[] = [];
  /** Set by the CLI's SIGINT handler: a running `auto` stops at the next rerun. */
  interrupted = false;
  /** The outcome of the current set (null: the empty set, the comparison itself). */
  private current: LabOutcome | null = null;

  /** The last error message (an unknown command, a bad argument). */
  lastError: string | null = null;

  constructor(
    private readonly s: ComparisonSession,
    private readonly out: (text: string) => void,
    /** Where errors go (default: `error: MSG` through out). */
    private readonly err: (msg: string) => void = (m) => out(`error: ${m}\n`),
  ) {
    this.result = s.result;
    this.lab = s.lab;
    this.keys = keysOf(s.receiver, s.donor);
  }

  close(): void {
    this.s.close();
  }

  get transplanted(): readonly string[] {
    return this.set;
  }

  /** The current state matches at every point (the comparison itself when nothing is transplanted). */
  get matches(): boolean {
    if (this.current) return this.current.matches;
    return this.result.verdict !== "DIVERGED" && this.result.verdict !== "INCOMPARABLE";
  }

  private firstDivergenceNow(): string {
    if (this.current) return this.current.firstDivergence ? `${this.current.firstDivergence.key} (NMSE ${fmt(this.current.firstDivergence.nmse)})` : "none";
    const f = this.result.firstDivergence;
    return f ? `${f.key} (NMSE ${fmt(Math.max(f.all?.nmse ?? 0, f.last?.nmse ?? 0) || null)})` : "none";
  }

  /** Words `take` may expand: keys, `*.role`, `blk.N.*`, config keys. */
  completions(): string[] {
    const roles = new Set<string>();
    const layers = new Set<string>();
    for (const k of this.keys) {
      const m = /^blk\.(\d+)\.(.+)$/.exec(k);
      if (m) {
        roles.add(`*.${m[2]}`);
        layers.add(`blk.${m[1]}.*`);
      }
    }
    return [...this.keys, ...roles, ...layers];
  }

  /** The keys a `take` argument names (a glob over the keys; `*.role` is any layer's role). */
  expand(arg: string): string[] {
    if (arg.startsWith(META)) {
      const field = arg.slice(META.length);
      return this.keys.includes(arg) ? [arg] : field.includes("*") ? this.keys.filter((k) => k.startsWith(META) && keyFilter([arg])(k)) : [];
    }
    const pat = arg.startsWith("*.") ? `blk.${arg}` : arg;
    const f = keyFilter([pat]);
    return this.keys.filter((k) => !k.startsWith(META) && f(k));
  }

  /** A command is running (the CLI's SIGINT handler sets `interrupted` then, instead of ending the process). */
  busy = false;

  async exec(line: string): Promise<ExecResult> {
    this.busy = true;
    try {
      return await this.execLine(line);
    } finally {
      this.busy = false;
    }
  }

  private async execLine(line: string): Promise<ExecResult> {
    const words = line.trim().split(/\s+/).filter(Boolean);
    if (words.length === 0 || words[0].startsWith("#")) return { ok: true };
    const [cmd, ...args] = words;
    const record = () => this.script.push(words.join(" "));
    switch (cmd) {
      case "help":
        this.help(args[0]);
        return { ok: args[0] === undefined || args[0] in COMMANDS };
      case "overview":
        this.overview();
        return { ok: true };
      case "point":
        return { ok: this.point(args[0]) };
      case "weights":
        return { ok: this.weights(args[0]) };
      case "config":
        this.config();
        return { ok: true };
      case "history":
        this.history();
        return { ok: true };
      case "steps":
        this.steps();
        return { ok: true };
      case "exact": {
        if (!this.needLab()) return { ok: false };
        const layers = this.parseLayers(args[0]);
        if (!layers) return this.fail("exact: give layers (3, 0-5, 1,4,7), all, or none");
        record();
        this.lab!.exactLayers.clear();
        for (const l of layers) this.lab!.exactLayers.add(l);
        this.out(`exact numerics on: ${this.layersText(layers)}\n`);
        await this.setTo(this.set, words.join(" "), true);
        return { ok: true };
      }
      case "isolate": {
        if (!this.needLab()) return { ok: false };
        const n = this.lab!.nLayer;
        const l = Number(args[0]);
        if (!/^\d+$/.test(args[0] ?? "") || l >= n) return this.fail(`isolate: give a layer 0..${n - 1}`);
        record();
        this.isolate(l);
        return { ok: true };
      }
      case "isa":
      case "threads": {
        if (!this.needLab()) return { ok: false };
        try {
          const got = cmd === "isa" ? setIsa(args[0] ?? "") : setThreads(Number(args[0]));
          if (cmd === "threads" && !(Number(args[0]) >= 1)) return this.fail("threads: give a count >= 1");
          record();
          this.out(`${cmd}: ${got}\n`);
        } catch (e) {
          return this.fail(`${cmd}: ${(e as Error).message}`);
        }
        await this.setTo(this.set, words.join(" "), true);
        return { ok: true };
      }
      case "take": {
        if (!this.needLab()) return { ok: false };
        if (args.length === 0) return this.fail("take: give one or more keys (e.g. take blk.1.ffn_gate, take *.attn_k, take meta:rmsEps)");
        const add: string[] = [];
        for (const a of args) {
          const ks = this.expand(a);
          if (ks.length === 0) return this.fail(`take: ${a} names no tensor or config key of this pair (tab completes keys; 'weights' lists the ones that differ)`);
          add.push(...ks);
        }
        record();
        await this.apply(sortKeys([...this.set, ...add]), words.join(" "));
        return { ok: true };
      }
      case "undo":
      case "redo": {
        const from = cmd === "undo" ? this.undoStack : this.redoStack;
        const to = cmd === "undo" ? this.redoStack : this.undoStack;
        const prev = from.pop();
        if (!prev) {
          this.out(`nothing to ${cmd}\n`);
          return { ok: true };
        }
        record();
        to.push(this.set);
        await this.setTo(prev, cmd);
        return { ok: true };
      }
      case "reset":
        record();
        if (this.set.length) {
          this.undoStack.push(this.set);
          this.redoStack = [];
        }
        await this.setTo([], "reset");
        return { ok: true };
      case "auto": {
        if (!this.needLab()) return { ok: false };
        record();
        await this.auto();
        return { ok: true };
      }
      case "save":
        if (!args[0]) return this.fail("save: give a file name");
        return { ok: this.save(args[0]) };
      case "quit":
      case "exit":
        return { ok: true, quit: true };
      default:
        return this.fail(`unknown command '${cmd}' (commands: ${Object.keys(COMMANDS).join(", ")})`);
    }
  }

  private fail(msg: string): ExecResult {
    this.error(msg);
    return { ok: false };
  }

  private error(msg: string): void {
    this.lastError = msg;
    this.err(msg);
  }

  private needLab(): boolean {
    if (this.lab) return true;
    this.error(
      this.result.verdict === "DIVERGED"
        ? "no experiments on this pair: a side must be a model file run by rosetta's engine and the other a model file too"
        : `nothing to bisect: the comparison is ${this.result.verdict}`,
    );
    return false;
  }

  help(cmd?: string): void {
    if (cmd && COMMANDS[cmd]) {
      this.out(`${COMMANDS[cmd].usage}\n  ${COMMANDS[cmd].help}\n`);
      return;
    }
    if (cmd) this.error(`no command '${cmd}'`);
    const w = Math.max(...Object.values(COMMANDS).map((c) => c.usage.length));
    for (const c of Object.values(COMMANDS)) this.out(`  ${c.usage.padEnd(w)}  ${c.help}\n`);
  }

  overview(): void {
    const r = this.result;
    const f = r.firstDivergence;
    this.out(`verdict: ${r.verdict}\n`);
    this.out(`first divergence: ${f ? `${f.key} (step ${f.step}, NMSE all ${fmt(f.all?.nmse)}, last ${fmt(f.last?.nmse)})` : "none"}\n`);
    if (r.diagnosis) this.out(`diagnosis: ${r.diagnosis.title}${r.diagnosis.tensors?.length ? ` [${r.diagnosis.tensors.join(", ")}]` : ""}\n`);
    const c = r.counts;
    this.out(`points: ${r.points.length} compared; ${c.match} match, ${c.drift} drift, ${c.diverged} diverged, ${c.nonfinite} nonfinite\n`);
    if (this.lab) {
      const donor = this.lab.receiverLabel === "A" ? "B" : "A";
      this.out(`experiments rerun side ${this.lab.receiverLabel} with keys from ${donor}; ${this.lab.candidates.length} differ: ${this.lab.candidates.join(", ") || "none"}\n`);
    }
    if (r.experiments?.minimal) this.out(`the comparison's own search found: ${r.experiments.minimal.join(", ")}\n`);
    if (this.set.length) this.out(`transplanted now: ${this.set.join(", ")}; first divergence now: ${this.firstDivergenceNow()}\n`);
  }

  private findPoint(key: string): PointResult | undefined {
    const m = /^(.+)@(\d+)$/.exec(key);
    const [k, step] = m ? [m[1], Number(m[2])] : [key, 0];
    return this.result.points.find((p) => p.key === k && p.step === step);
  }

  point(key: string | undefined): boolean {
    if (!key) {
      this.error("point: give a point key (e.g. blk.0.ffn_out; KEY@STEP for a decode step)");
      return false;
    }
    const p = this.findPoint(key);
    if (!p) {
      this.error(`point: no capture point ${key} (keys look like embd, blk.0.attn_norm, blk.1.ffn_out, logits)`);
      return false;
    }
    this.out(`${p.key} step ${p.step}: ${p.status}${p.note ? ` (${p.note})` : ""}\n`);
    this.out(`  nmse all ${fmt(p.all?.nmse)}  last ${fmt(p.last?.nmse)}  gate ${fmt(p.gate.band)}${p.all ? `  basis ${p.all.basis}` : ""}\n`);
    if (p.all) this.out(`  max|a-b| ${fmt(p.all.maxAbs)}  cosine ${fmt(p.all.cosine)}  SQNR ${fmt(p.all.sqnrDb)} dB\n`);
    if (p.perToken?.length) this.out(`  per-token nmse: ${p.perToken.map(fmt).join(" ")}\n`);
    const a = this.s.tensor("A", p.key, p.step), b = this.s.tensor("B", p.key, p.step);
    if (a && b && a.length === b.length) this.detail(a, b, p.shapeB ?? p.shapeA ?? [a.length]);
    else this.out("  (no full tensors of this point on both sides: no element detail)\n");
    return true;
  }

  /** The worst elements (index, A, B) and a text histogram of log10 |A - B|. */
  private detail(a: Float32Array, b: Float32Array, shape: number[]): void {
    const idx = (i: number) => {
      const out: number[] = [];
      for (let d = shape.length - 1; d >= 0; d--) {
        out.unshift(i % shape[d]);
        i = Math.floor(i / shape[d]);
      }
      return `[${out.join(", ")}]`;
    };
    const order = Array.from({ length: a.length }, (_, i) => i)
      .filter((i) => a[i] !== b[i] || Number.isNaN(a[i]) !== Number.isNaN(b[i]))
      .sort((x, y) => (Math.abs(a[y] - b[y]) || Infinity) - (Math.abs(a[x] - b[x]) || Infinity));
    this.out(`  ${order.length} of ${a.length} element(s) differ${order.length ? "; worst:" : ""}\n`);
    for (const i of order.slice(0, 5)) this.out(`    ${idx(i).padEnd(14)} A ${fmt(a[i]).padEnd(11)} B ${fmt(b[i]).padEnd(11)} |A-B| ${fmt(Math.abs(a[i] - b[i]))}\n`);
    if (order.length === 0) return;
    const bins = new Map<number, number>();
    for (const i of order) {
      const d = Math.abs(a[i] - b[i]);
      const e = Number.isFinite(d) && d > 0 ? Math.floor(Math.log10(d)) : 99;
      bins.set(e, (bins.get(e) ?? 0) + 1);
    }
    const max = Math.max(...bins.values());
    this.out("  |A-B| histogram (differing elements by decade):\n");
    for (const e of [...bins.keys()].sort((x, y) => x - y)) {
      const label = e === 99 ? "NaN/Inf" : `1e${e}..1e${e + 1}`;
      this.out(`    ${label.padEnd(12)} ${"#".repeat(Math.max(1, Math.round((40 * bins.get(e)!) / max))).padEnd(40)} ${bins.get(e)}\n`);
    }
  }

  weights(layer: string | undefined): boolean {
    const rows = this.result.weights?.tensors ?? [];
    if (!this.result.weights) {
      this.out("no weight diff (a side is not a model file)\n");
      return true;
    }
    if (layer !== undefined && !/^\d+$/.test(layer)) {
      this.error(`weights: LAYER is a layer number (got '${layer}')`);
      return false;
    }
    const pick = layer === undefined ? rows.filter((t) => t.status !== "identical" && t.status !== "sampled-identical") : rows.filter((t) => t.layer === Number(layer));
    if (pick.length === 0) this.out(layer === undefined ? "every tensor is identical\n" : `no tensors in layer ${layer}\n`);
    const w = Math.max(0, ...pick.map((t) => t.key.length));
    for (const t of pick) this.out(`  ${t.key.padEnd(w)}  ${describeTensor(t)}\n`);
    return true;
  }

  config(): void {
    const md = this.result.weights?.metadata ?? this.result.config?.mismatches ?? [];
    if (md.length === 0) this.out("the configs agree\n");
    for (const m of md) this.out(`  ${m.field}: A ${showMeta(m.a)}  B ${showMeta(m.b)}   (take meta:${m.field})\n`);
  }

  history(): void {
    if (this.experiments.length === 0) this.out("no experiments yet\n");
    this.experiments.forEach((e, i) => {
      const o = e.outcome;
      const what = o.error ? `could not run: ${o.error}` : o.matches ? "every point matches" : `first divergence ${o.firstDivergence?.key ?? "?"}`;
      this.out(`  ${i + 1}. ${e.command}  [${e.set.join(", ") || "nothing"}]  -> ${what} (${o.ms} ms)\n`);
    });
  }

  private async apply(next: string[], command: string): Promise<void> {
    this.undoStack.push(this.set);
    this.redoStack = [];
    await this.setTo(next, command);
  }

  /** What the last run computed (every point of step 0), to tell whether a setting changed any value. */
  private lastValues: Map<string, Float32Array> | null = null;

  /**
   * Makes `next` the transplanted set, reruns it (the empty set with no setting is the comparison itself)
   * and prints before/after; `force` reruns even the empty set (a setting changed: exact layers, ISA).
   */
  private async setTo(next: string[], command: string, force = false): Promise<void> {
    const before = this.firstDivergenceNow();
    const prevWithin = this.withinNow();
    this.set = next;
    const settings = (this.lab?.exactLayers.size ?? 0) > 0;
    if ((next.length === 0 && !force && !settings) || !this.lab) {
      this.current = null;
    } else {
      this.interrupted = false;
      const rec = new Map<string, Float32Array>();
      const o = await this.lab.run(next, rec);
      if (force && this.lastValues) {
        let changed = 0;
        for (const [k, v] of rec) {
          const w = this.lastValues.get(k);
          if (w && Buffer.compare(Buffer.from(v.buffer, v.byteOffset, v.byteLength), Buffer.from(w.buffer, w.byteOffset, w.byteLength)) !== 0) changed++;
        }
        this.out(changed === 0 ? "every point is bit-identical to the run before\n" : `${changed} point(s) changed value against the run before\n`);
      }
      this.lastValues = rec;
      this.current = o;
      this.experiments.push({ command, set: next, outcome: o });
    }
    const o = this.current;
    const now = this.withinNow();
    let flipped = "";
    if (prevWithin && now) {
      let fixed = 0, broke = 0;
      for (const [k, v] of now) {
        const w = prevWithin.get(k);
        if (w === false && v) fixed++;
        if (w === true && !v) broke++;
      }
      flipped = `points that flipped: ${fixed} now within their gate, ${broke} now beyond it\n`;
    }
    this.out(`transplanted: ${next.length ? next.join(", ") : "nothing"}${settings ? `; exact numerics on ${this.layersText([...this.lab!.exactLayers])}` : ""}\n`);
    if (o?.error) this.out(`could not run: ${o.error}\n`);
    this.out(`first divergence before: ${before}  after: ${this.firstDivergenceNow()}\n`);
    this.out(flipped);
    this.out(this.matches ? "every point matches\n" : "still diverges\n");
    if (this.interrupted) this.out("(interrupted: the experiment ran to its end; its result is kept)\n");
  }

  private layersText(layers: number[]): string {
    const n = this.lab?.nLayer ?? 0;
    const ls = layers.filter((l) => l < n);
    return layers.length === 0 ? "nothing" : [ls.length ? `layer(s) ${ls.join(", ")}` : "", layers.includes(n) ? "the output head" : ""].filter(Boolean).join(" and ");
  }

  /** Every compared point within its gate or not, now (the comparison's statuses when nothing is rerun). */
  private withinNow(): Map<string, boolean> | null {
    if (this.current) return this.current.within ?? null;
    return new Map(this.result.points.filter((p) => p.all).map((p) => [`${p.step}|${p.key}`, p.status !== "diverged" && p.status !== "nonfinite"]));
  }

  private parseLayers(arg: string | undefined): number[] | null {
    const n = this.lab?.nLayer ?? 0;
    if (arg === "all") return Array.from({ length: n + 1 }, (_, i) => i); // every layer and the head
    if (arg === "head") return [n];
    if (arg === "none") return [];
    if (!arg || !/^\d+(-\d+)?(,\d+(-\d+)?)*$/.test(arg)) return null;
    const out = new Set<number>();
    for (const part of arg.split(",")) {
      const [x, y] = part.split("-").map(Number);
      for (let l = x; l <= (y ?? x); l++) {
        if (l >= n) return null;
        out.add(l);
      }
    }
    return [...out].sort((p, q) => p - q);
  }

  isolate(layer: number): void {
    try {
      const rows = this.lab!.isolate(layer, this.set);
      const bad = rows.filter((r) => !r.within);
      this.out(`layer ${layer} of ${this.lab!.receiverLabel} run alone on ${this.lab!.receiverLabel === "A" ? "B" : "A"}'s input to it${this.set.length ? ` (with ${this.set.join(", ")} taken)` : ""}:\n`);
      for (const r of rows) this.out(`  ${r.key.padEnd(18)} nmse ${fmt(r.nmse).padEnd(10)} ${r.within ? "within its gate" : "BEYOND its gate"}\n`);
      this.out(bad.length ? `the layer itself is wrong: first at ${bad[0].key}\n` : "the layer is right on the same input: a divergence here comes from its input (earlier layers)\n");
    } catch (e) {
      this.error(`isolate: ${(e as Error).message}`);
    }
  }

  steps(): void {
    const r = this.result;
    const steps = [...new Set(r.points.map((p) => p.step))].sort((x, y) => x - y);
    if (steps.length <= 1) {
      this.out("no decode steps (run with --gen N)\n");
      return;
    }
    const flip = r.findings.find((f) => f.id === "token-flip");
    // points grouped by step once (a long decode has thousands of points and steps)
    const byStep = new Map<number, PointResult[]>();
    for (const p of r.points) {
    const l = byStep.get(p.step);
    if (l) l.push(p);
    else byStep.set(p.step, [p]);
  }
    for (const s of steps) {
      const pts = byStep.get(s) ?? [];
      const worst = pts.reduce((m, p) => Math.max(m, p.all?.nmse ?? 0, p.last?.nmse ?? 0), 0);
      const fd = pts.find((p) => p.status === "diverged" || p.status === "nonfinite");
      this.out(`  step ${String(s).padStart(3)}  worst nmse ${fmt(worst).padEnd(10)} ${fd ? `first divergent ${fd.key} (layer ${fd.layer ?? "-"})` : "within every gate"}${flip?.step === s ? `  FLIP: ${flip.evidence[0]}` : ""}\n`);
    }
  }

  /** ddmin over the lab's candidates: a minimal set whose transplant makes every point match. */
  async auto(): Promise<AutoResult> {
    const lab = this.lab!;
    const t0 = performance.now();
    const r0 = lab.reruns;
    const cands = lab.candidates;
    this.interrupted = false;
    const done = (minimal: string[] | null, matches: boolean): AutoResult => ({ minimal, reruns: lab.reruns - r0, ms: Math.round(performance.now() - t0), matches });
    if (cands.length === 0) {
      this.out("auto: nothing differs between the two files that could be transplanted\n");
      return done(null, false);
    }
    const r = this.result;
    if (r.points.some((p) => p.step > 0)) {
      const flip = r.findings.find((f) => f.id === "token-flip");
      const fd = r.points.find((p) => p.status === "diverged" || p.status === "nonfinite");
      this.out(`auto: decode steps: first top-token flip ${flip ? `at step ${flip.step} (${flip.evidence[0]})` : "none"}; first divergent point ${fd ? `${fd.key} at step ${fd.step} (layer ${fd.layer ?? "-"})` : "none"}\n`);
    }
    let n = 0;
    const cache = new Map<string, LabOutcome>();
    this.out(`auto: ${cands.length} candidate(s): ${cands.join(", ")}\n`);
    // the target: everything that differs taken at once; a set explains when it reproduces the target exactly
    const target = await lab.runTarget(cands);
    n++;
    this.out(`  rerun ${n}: all ${cands.length} key(s) -> ${target.matches ? "every point within its gate (the target)" : `diverges at ${target.firstDivergence?.key ?? "?"}${target.error ? ` (${target.error})` : ""}`}\n`);
    if (!target.matches) {
      this.out("auto: even with everything that differs taken from the other side, a point diverges: no transplant set explains it (the rest is the engines' or numerics')\n");
      return done(null, false);
    }
    const test = async (s: string[]): Promise<boolean> => {
      const k = [...s].sort().join("|");
      let o = cache.get(k);
      if (!o) {
        // a turn of the event loop between reruns, so a Ctrl-C typed meanwhile is seen
        await new Promise((res) => setImmediate(res));
        if (this.interrupted) return false;
        o = await lab.run(s);
        cache.set(k, o);
        n++;
        this.out(`  rerun ${n}: ${s.length} key(s) [${s.length > 4 ? `${s.slice(0, 4).join(", ")}, ...` : s.join(", ")}] -> ${o.equalsTarget ? "reproduces the target" : `differs${o.firstChanged ? ` (first changed ${o.firstChanged})` : ""}`}\n`);
      }
      return o.equalsTarget === true;
    };
    const minimal = sortKeys(cands.length === 1 ? cands : await ddmin(cands, test, { left: 64 }));
    if (this.interrupted) {
      this.out("auto: interrupted; the set so far is not minimal\n");
    }
    const searched = lab.reruns - r0;
    this.out(`minimal set (${searched} rerun(s)): ${minimal.join(", ")}\n`);
    await this.apply(minimal, "auto");
    return { ...done(minimal, this.current?.matches ?? false), reruns: searched };
  }

  private save(file: string): boolean {
    try {
      const text = `# rosetta bisect script: ${this.result.a.source} vs ${this.result.b.source}\n${this.script.join("\n")}\n`;
      writeFileAtomic(file, text);
      this.out(`saved ${this.script.length} command(s) to ${file}\n`);
      return true;
    } catch (e) {
      this.error(`save: ${(e as Error).message}`);
      return false;
    }
  }
}

/** Role keys both files have (the head of a tied donor too), forward order, then config fields as meta: keys. */
function keysOf(recv: LoadedModel | null, donor: LoadedModel | null): string[] {
  if (!recv || !donor) return [];
  const roles = [...recv.byRole.keys()].filter((k) => donor.byRole.has(k) || (k === "output" && donor.config.tiedEmbeddings));
  const meta = Object.keys(recv.config)
    .filter((f) => typeof (recv.config as unknown as Record<string, unknown>)[f] !== "object")
    .map((f) => `${META}${f}`);
  return [...sortKeys(roles), ...meta.sort()];
}
