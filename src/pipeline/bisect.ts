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
import { writeFileSync } from "node:fs";

import { keyFilter } from "../model/capture.js";
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
  point: { usage: "point KEY", help: "metrics of one capture point (e.g. blk.1.ffn_out): status, NMSE all/last token, per-token NMSE" },
  weights: { usage: "weights [LAYER]", help: "weight-diff rows of a layer (no LAYER: every tensor that differs), status and note" },
  config: { usage: "config", help: "the two configs' differences" },
  take: {
    usage: "take KEY...",
    help: "rerun with these tensors (role keys: blk.3.attn_k, *.attn_k for every layer, blk.3.* for a whole layer) or config keys (meta:rmsEps) taken from the other side, added to the current set",
  },
  undo: { usage: "undo", help: "back to the set before the last take/auto/reset" },
  redo: { usage: "redo", help: "redo what undo undid" },
  reset: { usage: "reset", help: "empty the transplanted set (the comparison as it was)" },
  history: { usage: "history", help: "the experiments run so far and their outcomes" },
  auto: { usage: "auto", help: "search a minimal set of differing tensors/keys whose transplant makes every point match (ddmin)" },
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
    return true;
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
    const pick = layer === undefined ? rows.filter((t) => t.status !== "identical") : rows.filter((t) => t.layer === Number(layer));
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

  /** Makes `next` the transplanted set, reruns it (the empty set is the comparison itself) and prints before/after. */
  private async setTo(next: string[], command: string): Promise<void> {
    const before = this.firstDivergenceNow();
    this.set = next;
    if (next.length === 0 || !this.lab) {
      this.current = null;
    } else {
      this.interrupted = false;
      const o = await this.lab.run(next);
      this.current = o;
      this.experiments.push({ command, set: next, outcome: o });
    }
    const o = this.current;
    this.out(`transplanted: ${next.length ? next.join(", ") : "nothing"}\n`);
    if (o?.error) this.out(`could not run: ${o.error}\n`);
    this.out(`first divergence before: ${before}  after: ${this.firstDivergenceNow()}\n`);
    this.out(this.matches ? "every point matches\n" : "still diverges\n");
    if (this.interrupted) this.out("(interrupted: the experiment ran to its end; its result is kept)\n");
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
    let n = 0;
    const cache = new Map<string, LabOutcome>();
    const test = async (s: string[]): Promise<boolean> => {
      const k = [...s].sort().join("|");
      let o = cache.get(k);
      if (!o) {
        // a turn of the event loop between reruns, so a Ctrl-C typed meanwhile is seen
        await new Promise((r) => setImmediate(r));
        if (this.interrupted) return false;
        o = await lab.run(s);
        cache.set(k, o);
        n++;
        this.out(`  rerun ${n}: ${s.length} key(s) [${s.length > 4 ? `${s.slice(0, 4).join(", ")}, ...` : s.join(", ")}] -> ${o.matches ? "matches" : `diverges at ${o.firstDivergence?.key ?? "?"}${o.error ? ` (${o.error})` : ""}`}\n`);
      }
      return o.matches;
    };
    this.out(`auto: ${cands.length} candidate(s): ${cands.join(", ")}\n`);
    if (!(await test(cands))) {
      this.out(this.interrupted ? "auto: interrupted\n" : "auto: even with everything that differs taken from the other side, a point diverges: no transplant set explains it\n");
      return done(null, false);
    }
    const minimal = sortKeys(await ddmin(cands, test, { left: 64 }));
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
      writeFileSync(file, text);
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
