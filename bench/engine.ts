/**
 * `npm run bench:engine`: rosetta's forward pass against llama.cpp (through the bridge, no eval callback)
 * on full-size synthetic qwen2 models (bench/full-models.ts): Qwen2.5-1.5B dimensions (tied embeddings)
 * and 7B-class dimensions (own 151,936 x 3584 output matrix), the full 151,936-token vocabulary, 28
 * layers, in Q4_K_M and Q8_0, generated once and cached under bench/.cache.
 *
 * llama.cpp runs twice, each in the configuration its own tools (llama-cli, llama-bench) use by default
 * (repacked weights, `use_extra_bufts`; mmap; llamafile sgemm): with the project's portable pin
 * (`default`: the haswell variant) and with `auto`, the variant ggml_backend_load_all picks for this CPU
 * (what llama.cpp's own tools load). The `auto` ratio is the one that counts; the pin's is printed too.
 *
 * Each engine runs in its own child process (so its peak RSS is its own); the parent alternates them,
 * each round llama.cpp pin, llama.cpp auto, then rosetta without and with capture back to back (order
 * flipping every round), BENCH_REPS rounds (default 3) per case, and prints medians: tokens/s of prefill
 * 7 and 64 and of decode 16 (after a 7-token prompt; llama.cpp's time is llama_decode's over the steps after
 * the prompt), the ratios llama.cpp time / rosetta time (> 1: rosetta is faster) and the
 * cost of full capture (summaries at every point, as `rosetta trace` records them), ratios as medians of
 * each round's own ratio.
 *
 * Every model runs at two depths (BENCH_DEPTHS, default 28 and 4 layers, the same vocabulary): the
 * difference over the layers between them is the per-layer cost, which fixed per-call costs (the output
 * matmul, sampling, thread start-up) cannot hide. Every round runs both depths (six processes per model
 * and thread count: each engine at each depth), so that each round's difference comes from runs seconds
 * apart; the per-layer line is the median over the rounds, its ratio the median of the rounds' ratios.
 * Per layer the bench prints what fraction of the
 * machine's limit each engine reaches, both limits measured here first: int8 multiply-accumulates per
 * second (rosetta's best path's dot instruction, register-resident, all threads) for prefill, memory
 * read bandwidth (all threads) for decode. A benchmark, never a test.
 *
 * The capture column is the median over BENCH_CAPTURE_PAIRS (default 3) plain/captured pairs per round.
 *
 * Env: BENCH_REPS, BENCH_CAPTURE_PAIRS, BENCH_DEPTHS ("28,4"), BENCH_THREADS ("1,2"), BENCH_MODELS (a comma-separated
 * subset of "1.5b Q4_K_M,1.5b Q8_0,7b Q4_K_M,7b Q8_0"), BENCH_CASES (subset of "prefill 7,prefill
 * 64,decode 16,decode 16 @512"; the default leaves out the last: 16 steps after a 512-token prompt), BENCH_CACHE (the model folder), BENCH_PAGE_CACHE ("reread": each model file dropped from the page
 * cache and read back once before its rounds, the state after a reboot or a first read from disk; "asis":
 * as found).
 */
import { fork, type ChildProcess } from "node:child_process";
import { readFileSync, statSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";

import { FULL_SHAPES, FULL_VOCAB, fullModel, layerTotals, settlePageCache, type FullQuant, type FullShape } from "./full-models.js";

const REPS = Number(process.env.BENCH_REPS ?? 3);
const CAPTURE_PAIRS = Number(process.env.BENCH_CAPTURE_PAIRS ?? 3);
const list = (env: string | undefined, dflt: string) => (env ?? dflt).split(",").map((x) => x.trim()).filter(Boolean);
const DEPTHS = list(process.env.BENCH_DEPTHS, "28,4").map(Number);
const THREADS = list(process.env.BENCH_THREADS, "1,2").map(Number);
// [kind, tokens, name, the prompt before a decode]; "decode 16 @512" (16 steps after a 512-token prompt:
// attention over a longer cache) only when BENCH_CASES names it
const ALL_CASES = [
  ["prefill", 7, "prefill 7", 0], ["prefill", 64, "prefill 64", 0], ["decode", 16, "decode 16", 7], ["decode", 16, "decode 16 @512", 512],
] as const;
const DEFAULT_CASES = "prefill 7,prefill 64,decode 16";
const CASES = ALL_CASES.filter((c) => list(process.env.BENCH_CASES, DEFAULT_CASES).includes(c[2]));
const MODELS: [string, FullShape, FullQuant][] = [
  ["1.5b Q4_K_M", "1.5b", "Q4_K_M"],
  ["1.5b Q8_0", "1.5b", "Q8_0"],
  ["7b Q4_K_M", "7b", "Q4_K_M"],
  ["7b Q8_0", "7b", "Q8_0"],
];
type Engine = "rosetta" | "pin" | "auto";
// BENCH_PIN=off leaves the pin out (its ratio does not count; without its copy of the weights a 7B Q8_0
// pair fits a 24 GB machine: memoryShortfall)
const LLAMAS: readonly ("pin" | "auto")[] = process.env.BENCH_PIN === "off" ? ["auto"] : ["pin", "auto"];

interface Job { kind: "prefill" | "decode"; n: number; ctx: number; capture: boolean }
/** rosetta only: the same job without and with capture, back to back (in this order, or reversed). */
interface PairJob { kind: "prefill" | "decode"; n: number; ctx: number; pair: "plain-first" | "capture-first" }
interface Timing { ms: number; cpuMs: number }

const prompt = (n: number) => Array.from({ length: n }, (_, i) => 1 + ((i * 37) % 500));

// ---- child processes: one engine, one model, one thread count -------------------------------------

async function worker(engine: Engine, file: string, threads: number): Promise<void> {
  const timed = async (f: () => Promise<void> | void): Promise<Timing> => {
    const c0 = process.cpuUsage(), t0 = performance.now();
    await f();
    const t = performance.now() - t0, c = process.cpuUsage(c0);
    return { ms: t, cpuMs: (c.user + c.system) / 1000 };
  };
  let run: (j: Job) => Promise<Timing>;
  let variant = "";
  if (engine === "rosetta") {
    const { Engine } = await import("../src/model/engine.js");
    const { Recorder } = await import("../src/model/capture.js");
    const { forward } = await import("../src/model/forward.js");
    const { currentIsa } = await import("../src/bindings/kernels.js");
    const e = await Engine.open(file, { numerics: "ggml", threads });
    variant = currentIsa();
    run = async (j) => {
      const st = e.newState(Math.max(j.n, j.ctx + j.n) + 8);
      const rec = j.capture ? new Recorder() : null;
      if (j.kind === "prefill") return timed(() => void forward(e.model, prompt(j.n), st, { logits: "last", capture: rec?.hook }));
      forward(e.model, prompt(j.ctx), st, { logits: "last" });
      return timed(() => {
        for (let i = 0; i < j.n; i++) forward(e.model, [100 + i], st, { logits: "last", capture: rec?.hook });
      });
    };
  } else {
    const { loadLlamaBridge } = await import("../src/bindings/llama.js");
    const b = loadLlamaBridge(engine === "pin" ? "default" : "auto");
    variant = b.backend.loaded;
    // llama_decode's own wall time: the prompt's call (prefill), or every step's after it (decode); the
    // cpu figure is the whole call's (only rosetta's is read: the capture column)
    const once = async (tokens: number[], gen: number): Promise<Timing> => {
      const c0 = process.cpuUsage();
      const r = await b.run({ model: file, tokens, gen, threads, callback: false, lastLogits: true });
      const c = process.cpuUsage(c0);
      return { ms: gen > 0 ? r.decodeMs - r.promptMs : r.decodeMs, cpuMs: (c.user + c.system) / 1000 };
    };
    run = async (j) => (j.kind === "prefill" ? once(prompt(j.n), 0) : once(prompt(j.ctx), j.n));
  }
  const pair = async (m: PairJob) => {
    const plain: Job = { kind: m.kind, n: m.n, ctx: m.ctx, capture: false }, cap: Job = { ...plain, capture: true };
    if (m.pair === "plain-first") return { plain: await run(plain), capture: await run(cap) };
    const capture = await run(cap);
    return { plain: await run(plain), capture };
  };
  process.on("message", (m: Job | PairJob | "rss") => {
    if (m === "rss") return void process.send!({ rssMb: process.resourceUsage().maxRSS / 1024 });
    ("pair" in m ? pair(m) : run(m)).then((t) => process.send!(t), (err) => process.send!({ error: String(err) }));
  });
  process.send!({ ready: true, variant });
}

/** Every worker process still up: killed when the parent fails, so that none outlives it. */
const alive = new Set<ChildProcess>();

class Child {
  private readonly p: ChildProcess;
  private waiting: ((m: unknown) => void) | null = null;
  private exited: string | null = null;
  readonly ready: Promise<string>;

  constructor(engine: Engine, file: string, threads: number) {
    this.p = fork(fileURLToPath(import.meta.url), ["--worker", engine, file, String(threads)], { stdio: ["ignore", "ignore", "ignore", "ipc"] });
    alive.add(this.p);
    this.p.on("exit", () => alive.delete(this.p));
    this.ready = this.next().then((m) => {
      const r = m as { error?: string; variant: string };
      if (r.error) throw new Error(`${engine} worker: ${r.error}`);
      return r.variant;
    });
    this.p.on("message", (m) => {
      const w = this.waiting;
      this.waiting = null;
      w?.(m);
    });
    this.p.on("exit", (code, signal) => {
      this.exited = `${engine} worker exited (${code ?? signal})`;
      this.waiting?.({ error: this.exited });
    });
    // a send to a worker that has just died: reported by ask's error, not as an unhandled event
    this.p.on("error", (e) => this.waiting?.({ error: `${engine} worker: ${e.message}` }));
  }

  private next(): Promise<unknown> {
    return new Promise((resolve) => (this.waiting = resolve));
  }

  async ask<T>(m: Job | PairJob | "rss"): Promise<T> {
    if (this.exited) throw new Error(this.exited);
    const r = this.next();
    this.p.send(m);
    const v = (await r) as T & { error?: string };
    if (v.error) throw new Error(v.error);
    return v;
  }

  close(): void {
    this.p.kill();
  }
}

// ---- the parent ---------------------------------------------------------------------------------

const median = (xs: number[]) => (xs.length ? [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] : NaN);
/** x with d decimals, or "-" for a figure not measured (the pin under BENCH_PIN=off). */
const fixed = (x: number | undefined, d: number) => (x !== undefined && Number.isFinite(x) ? x.toFixed(d) : "-");
const load = () => os.loadavg().map((l) => l.toFixed(1)).join(" ");
const variants = new Map<Engine, string>();

/** Per (model label, threads, case name): each round's per-layer ms, by engine (perLayer). */
const layerRounds = new Map<string, Record<Engine, number[]>>();

/**
 * One model at every depth: per thread count, one process per engine and depth, all alive through the
 * rounds; each round runs every depth (their order flipping every round), so the per-layer figure of a
 * round, the difference of two depths, is taken from runs seconds apart, in the same phase of this VM's
 * memory speed (measured minutes apart, depth after depth, a slow phase at one depth and a fast one at
 * the other moved each engine's per-layer figure by as much as the engines differ).
 */
async function benchModel(label: string, depths: [number, string][], rss: Map<string, number>): Promise<void> {
  const [d1, d2] = [Math.max(...depths.map(([d]) => d)), Math.min(...depths.map(([d]) => d))];
  for (const threads of THREADS) {
    const chs = new Map<number, { rosetta: Child } & Partial<Record<Engine, Child>>>();
    for (const [depth, file] of depths) {
      const ch: { rosetta: Child } & Partial<Record<Engine, Child>> = { rosetta: new Child("rosetta", file, threads) };
      for (const e of LLAMAS) ch[e] = new Child(e, file, threads);
      chs.set(depth, ch);
    }
    for (const ch of chs.values()) for (const [e, c] of Object.entries(ch) as [Engine, Child][]) variants.set(e, await c.ready);
    for (const [kind, n, name, ctx] of CASES) {
      const job: Job = { kind, n, ctx, capture: false };
      for (const ch of chs.values()) for (const c of Object.values(ch)) await c.ask(job); // warm-up (page-in of the mapping, first context)
      interface Runs { r: Timing[]; c: Timing[]; cp: Timing[]; l: Record<"pin" | "auto", Timing[]> }
      const runs = new Map<number, Runs>(depths.map(([d]) => [d, { r: [], c: [], cp: [], l: { pin: [], auto: [] } }]));
      for (let i = 0; i < REPS; i++) {
        const order = i % 2 === 0 ? depths : [...depths].reverse();
        for (const [depth] of order) {
          const ch = chs.get(depth)!, { r, c, cp, l } = runs.get(depth)!;
          // llama.cpp pin and auto, then rosetta without and with capture back to back (the order flips
          // every round, so neither variant always runs first after llama.cpp's cold caches)
          for (const e of LLAMAS) l[e].push(await ch[e]!.ask<Timing>(job));
          // CAPTURE_PAIRS back-to-back pairs per round for the capture column (a 4-layer decode is ~0.2 s,
          // where one pair's ratio is mostly noise); the round's first plain run is its rosetta time
          for (let k = 0; k < CAPTURE_PAIRS; k++) {
            const p = await ch.rosetta.ask<{ plain: Timing; capture: Timing }>({ kind, n, ctx, pair: (i + k) % 2 === 0 ? "plain-first" : "capture-first" });
            if (k === 0) r.push(p.plain);
            cp.push(p.plain);
            c.push(p.capture);
          }
        }
      }
      const ms = (xs: Timing[]) => median(xs.map((x) => x.ms));
      const tps = (xs: Timing[]) => (n * 1000) / ms(xs);
      for (const [depth] of depths) {
        const { r, c, cp, l } = runs.get(depth)!;
        // ratios of runs made within one round (adjacent in time): a VM's memory bandwidth changes phase
        // every few seconds, which shifts whole rounds; a median of per-round ratios cancels most of that
        const paired = (xs: Timing[], ys: Timing[], f: (t: Timing) => number) => median(xs.map((x, i) => f(x) / f(ys[i])));
        const cap = (paired(c, cp, (x) => x.ms) - 1) * 100;
        const capCpu = (paired(c, cp, (x) => x.cpuMs) - 1) * 100;
        console.log(
          `${label.padEnd(12)} ${String(depth).padStart(5)} ${String(threads).padStart(3)}  ${name.padEnd(10)} ${tps(r).toFixed(1).padStart(8)} ` +
            `${fixed(tps(l.pin), 1).padStart(8)} ${tps(l.auto).toFixed(1).padStart(8)} ${fixed(paired(l.pin, r, (x) => x.ms), 2).padStart(6)} ` +
            `${paired(l.auto, r, (x) => x.ms).toFixed(2).padStart(6)} ${cap.toFixed(1).padStart(7)}% ${capCpu.toFixed(1).padStart(7)}%  ${load()}`,
        );
      }
      if (d1 !== d2) {
        const a = runs.get(d1)!, b = runs.get(d2)!;
        const per = (xs: Timing[], ys: Timing[]) => xs.map((x, i) => (x.ms - ys[i].ms) / (d1 - d2));
        layerRounds.set(`${label}|${threads}|${name}`, { rosetta: per(a.r, b.r), pin: per(a.l.pin, b.l.pin), auto: per(a.l.auto, b.l.auto) });
      }
    }
    for (const [depth, ch] of chs)
      for (const [e, c] of Object.entries(ch) as [Engine, Child][]) {
        const { rssMb } = await c.ask<{ rssMb: number }>("rss");
        const k = `${label} ${depth}L ${e}`;
        rss.set(k, Math.max(rss.get(k) ?? 0, rssMb));
        c.close();
      }
  }
}

interface Limits { int8: Map<number, number>; bw: Map<number, number>; isa: string }

/**
 * Why a model's processes would not fit in this machine's memory, or null. All its depths run at once
 * (benchModel); per depth, each llama.cpp variant (pin, auto) holds an anonymous copy of the repacked
 * weights, about the file's size (peak RSS 7709 MB for the 4464 MB 7B Q4_K_M file, its pages read while
 * repacking included), and rosetta streams the file from the page cache: about (1 + variants) times the
 * files in all. Past 90% of the machine's memory the page cache thrashes or the kernel kills a worker.
 * BENCH_MEMORY_CHECK=off runs it anyway.
 */
function memoryShortfall(files: string[]): string | null {
  if (process.env.BENCH_MEMORY_CHECK === "off") return null;
  const need = (1 + LLAMAS.length) * files.reduce((s, f) => s + statSync(f).size, 0), have = os.totalmem();
  if (need <= 0.9 * have) return null;
  const gb = (x: number) => (x / 2 ** 30).toFixed(1);
  return (
    `its ${files.length} depth(s) at once need about ${gb(need)} GiB (the repacked copies of llama.cpp ${LLAMAS.join(" and ")} and ` +
    `the page cache, ${1 + LLAMAS.length} x the files) and this machine has ${gb(have)} GiB; ` +
    (LLAMAS.length > 1 ? "BENCH_PIN=off leaves the pin's copy out, " : "") +
    `a larger machine runs it (BENCH_MEMORY_CHECK=off runs it here anyway)`
  );
}

/**
 * On a CPU with AMX (Intel Sapphire Rapids and later), llama.cpp's auto variant (sapphirerapids) puts
 * Q4_0, Q4_1, Q8_0, Q4_K, Q5_K, Q6_K and IQ4_XS weights in ggml's AMX buffer: prompts through AMX tile
 * kernels, one token through that buffer's own VNNI kernels, each output's whole-block integer sums
 * fma'd one block after another. ggml mode reproduces the CPU backend's 8-lane order, which AMX cannot
 * compute at its speed (docs/engine.md "AMX"): the line that says so, or null.
 */
function amxNote(auto: string | undefined): string | null {
  let flags = "";
  try {
    flags = readFileSync("/proc/cpuinfo", "utf8");
  } catch {
    return null;
  }
  if (auto !== "sapphirerapids" || !/\bamx_int8\b/.test(flags)) return null;
  return (
    "AMX: this CPU has AMX and auto (sapphirerapids) multiplies Q4_0/Q4_1/Q8_0/Q4_K/Q5_K/Q6_K/IQ4_XS weights with ggml's AMX " +
    "kernels (tiles for prompts, its own VNNI kernels for one token), in another float order than the CPU backend that " +
    'ggml mode reproduces bit for bit; rosetta keeps that order (docs/engine.md "AMX")'
  );
}

async function machineLimits(): Promise<Limits> {
  const { loadKernelsAddon } = await import("../src/bindings/kernels-addon.js");
  const k = loadKernelsAddon();
  const lim: Limits = { int8: new Map(), bw: new Map(), isa: k.isa() };
  for (const t of THREADS) {
    // best of three, each 300 ms (int8) / three passes over 512 MiB per thread (bandwidth)
    lim.int8.set(t, Math.max(...[0, 1, 2].map(() => k.int8PeakMacs(t, 300))));
    lim.bw.set(t, k.memoryReadBandwidth(t, 512 * 2 ** 20, 3));
  }
  return lim;
}

/**
 * Per layer: the difference between the two depths over the layers between them, taken in each round
 * (benchModel); printed: each engine's median over the rounds, and the median of the rounds' own ratios.
 */
function perLayer(lim: Limits): void {
  const [d1, d2] = [Math.max(...DEPTHS), Math.min(...DEPTHS)];
  if (DEPTHS.length < 2 || d1 === d2) return;
  console.log(
    `\nper layer = (time at ${d1} layers - time at ${d2}) / ${d1 - d2} in each round (both depths run in every round), ` +
      `the median over the rounds; ratio = llama.cpp / rosetta, the median of the rounds' ratios; auto range = the lowest and highest ` +
      `round's ratio against auto (how far this VM's noise moves one round); % of limit: prefill in int8 MACs ` +
      `(each layer's matmul weights x tokens) / measured int8 peak, decode in the layer's bytes / measured read bandwidth`,
  );
  console.log("model        threads case       ms per layer (whole case):  ratio pin  ratio auto  auto range  ros %lim  auto %lim");
  console.log("                               rosetta    pin   auto");
  for (const [label, shape, q] of MODELS) {
    const a = layerTotals(shape, q, d1), b = layerTotals(shape, q, d2);
    const bytes = (a.bytes - b.bytes) / (d1 - d2), macs = (a.macs - b.macs) / (d1 - d2);
    for (const threads of THREADS)
      for (const [kind, n, name] of CASES) {
        const rounds = layerRounds.get(`${label}|${threads}|${name}`);
        if (!rounds) continue;
        const ms = (e: Engine) => median(rounds[e]);
        const ratios = (e: Engine) => rounds[e].map((x, i) => x / rounds.rosetta[i]);
        const ratio = (e: Engine) => median(ratios(e));
        const range = `${Math.min(...ratios("auto")).toFixed(2)}-${Math.max(...ratios("auto")).toFixed(2)}`;
        const frac = (m: number) =>
          kind === "prefill" ? (n * macs) / (m / 1000) / lim.int8.get(threads)! : (n * bytes) / (m / 1000) / lim.bw.get(threads)!;
        const f = (x: number) => fixed(x, 2).padStart(6);
        console.log(
          `${label.padEnd(12)} ${String(threads).padStart(7)} ${name.padEnd(10)} ${f(ms("rosetta"))} ${f(ms("pin"))} ${f(ms("auto"))}     ` +
            `${fixed(ratio("pin"), 2).padStart(5)}  ${ratio("auto").toFixed(2).padStart(10)}  ${range.padStart(10)}  ` +
            `${(frac(ms("rosetta")) * 100).toFixed(1).padStart(7)}%  ${(frac(ms("auto")) * 100).toFixed(1).padStart(8)}%`,
        );
      }
  }
}

async function main(): Promise<void> {
  const want = process.env.BENCH_MODELS?.split(",").map((x) => x.trim());
  const models = MODELS.filter(([label]) => !want || want.includes(label));
  const files: [string, number, string][] = [];
  for (const [label, shape, q] of models)
    for (const depth of DEPTHS) files.push([label, depth, fullModel(shape, q, depth, (s) => console.log(`[bench:engine] ${s}`))]);
  const lim = await machineLimits();
  const s = FULL_SHAPES;
  console.log(
    `engine bench: qwen2, vocab ${FULL_VOCAB}; 1.5b = n_embd ${s["1.5b"].nEmbd}, ffn ${s["1.5b"].nFf}, tied embeddings; ` +
      `7b = n_embd ${s["7b"].nEmbd}, ffn ${s["7b"].nFf}, own output matrix; depths ${DEPTHS.join(" and ")}; medians of ${REPS}, ` +
      `engines alternating, each in its own process; ${os.cpus()[0].model}, ${os.cpus().length} cores; ${new Date().toISOString()}`,
  );
  console.log(
    `machine limits (${lim.isa} path): ` +
      THREADS.map((t) => `${t} thread(s): int8 ${(lim.int8.get(t)! / 1e9).toFixed(0)} GMAC/s, read ${(lim.bw.get(t)! / 1e9).toFixed(1)} GB/s`).join("; "),
  );
  console.log(
    "llama.cpp as its own tools run it by default (repacked weights, mmap, llamafile sgemm): pin = the project's portable variant, " +
      "auto = the variant llama.cpp picks for this CPU; ratio = llama.cpp time / rosetta time",
  );
  console.log("model        depth threads case       rosetta  lla pin lla auto  r pin r auto  capture  cap cpu  load 1/5/15");
  console.log("                                       tok/s    tok/s    tok/s                  wall      cpu");
  const rss = new Map<string, number>();
  const cache = new Set<string>();
  const skipped = new Set<string>();
  for (const [label] of models) {
    const depths = files.filter(([l]) => l === label).map(([, depth, file]): [number, string] => [depth, file]);
    const tooBig = memoryShortfall(depths.map(([, file]) => file));
    if (tooBig) {
      console.log(`[bench:engine] ${label} skipped: ${tooBig}`);
      skipped.add(label);
      continue;
    }
    for (const [, file] of depths) cache.add(settlePageCache(file));
    await benchModel(label, depths, rss);
  }
  console.log(`page cache (BENCH_PAGE_CACHE=${process.env.BENCH_PAGE_CACHE ?? "reread"}): each model file ${[...cache].join("; ")} before its rounds`);
  console.log(`variants: rosetta ${variants.get("rosetta")} path, llama.cpp pin ${variants.get("pin") ?? "- (BENCH_PIN=off)"}, auto ${variants.get("auto")}`);
  const amx = amxNote(variants.get("auto"));
  if (amx) console.log(amx);
  perLayer(lim);
  for (const [label, depth, file] of files) {
    if (skipped.has(label)) continue;
    const mb = statSync(file).size / 2 ** 20;
    const r = (e: Engine) => fixed(rss.get(`${label} ${depth}L ${e}`), 0);
    console.log(
      `peak RSS ${label} ${depth}L: rosetta ${r("rosetta")} MB, llama.cpp pin ${r("pin")} MB, auto ${r("auto")} MB; ` +
        `model file ${mb.toFixed(0)} MB (target: rosetta <= ${(mb + 200).toFixed(0)} MB); ${path.basename(file)}`,
    );
  }
}

if (process.argv[2] === "--worker") {
  worker(process.argv[3] as Engine, process.argv[4], Number(process.argv[5])).catch((e) => {
    process.send?.({ error: String(e) });
    process.exit(1);
  });
} else {
  main().catch((e) => {
    console.error(e);
    for (const p of alive) p.kill();  // their IPC channels would keep this process waiting
    process.exitCode = 1;
  });
}
