/**
 * `npm run bench:engine`: rosetta's forward pass against llama.cpp (through the bridge, no eval
 * callback) on synthetic qwen2 models: Qwen2.5-1.5B layer dimensions (n_embd 1536, 12 heads, 2 kv heads,
 * head dim 128, ffn 8960; BENCH_LAYERS layers, default 2) in Q4_K_M and Q8_0, and 7B-class layer
 * dimensions (n_embd 3584, 28 heads, 4 kv heads, ffn 18944; BENCH_LAYERS_7B layers, default 1) in
 * Q4_K_M, all with the fixtures' 512-token vocabulary; at 1 and 2 threads. Both engines run the same file.
 *
 * Each engine runs in its own child process (so its peak RSS is its own); the parent alternates them,
 * each round llama.cpp then rosetta without and with capture back to back (order flipping every round),
 * BENCH_REPS rounds (default 3) per case and prints medians: tokens/s of prefill 7 and 64 and of decode 16, the ratio
 * rosetta / llama.cpp and the cost of full capture (summaries at every point, as `rosetta trace` records
 * them) over no capture, both as the median of each round's own ratio. CPU time per run is printed too: on a loaded machine
 * it is steadier than wall time at 1 thread. A benchmark, never a test.
 */
import { fork, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, renameSync, statSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";

import { DIMS } from "../tests/fixtures/lib/index.js";
import { buildModel } from "../tests/fixtures/lib/models.js";

const REPS = Number(process.env.BENCH_REPS ?? 3);
const DIR = path.join(os.tmpdir(), "rosetta-bench");
const SHAPES = {
  "1.5b": { nEmbd: 1536, nHead: 12, nHeadKv: 2, headDim: 128, nFf: 8960, nLayer: Number(process.env.BENCH_LAYERS ?? 2) },
  "7b": { nEmbd: 3584, nHead: 28, nHeadKv: 4, headDim: 128, nFf: 18944, nLayer: Number(process.env.BENCH_LAYERS_7B ?? 1) },
};
type Shape = keyof typeof SHAPES;
const CASES = [["prefill", 7, "prefill 7"], ["prefill", 64, "prefill 64"], ["decode", 16, "decode 16"]] as const;

interface Job { kind: "prefill" | "decode"; n: number; capture: boolean }
/** rosetta only: the same job without and with capture, back to back (in this order, or reversed). */
interface PairJob { kind: "prefill" | "decode"; n: number; pair: "plain-first" | "capture-first" }
interface Timing { ms: number; cpuMs: number }

async function modelFile(shape: Shape, q: string): Promise<string> {
  mkdirSync(DIR, { recursive: true });
  const dims = SHAPES[shape];
  const name = shape === "1.5b" ? "qwen2-1.5b-dims" : "qwen2-7b-dims";
  const src = path.join(DIR, `${name}-${dims.nLayer}L-F32.gguf`);
  const out = path.join(DIR, `${name}-${dims.nLayer}L-${q}.gguf`);
  if (existsSync(out)) return out;
  if (!existsSync(src)) {
    // the fixture generator with these layer dimensions (its DIMS are read at build time)
    const saved = { ...DIMS };
    Object.assign(DIMS, dims);
    try {
      writeFileSync(src + ".tmp", buildModel("qwen2"));
      renameSync(src + ".tmp", src);
    } finally {
      Object.assign(DIMS, saved);
    }
  }
  const { loadLlamaBridge } = await import("../src/bindings/llama.js");
  await loadLlamaBridge().quantize(src, out + ".tmp", q, { threads: 2 });
  renameSync(out + ".tmp", out);
  return out;
}

const prompt = (n: number) => Array.from({ length: n }, (_, i) => 1 + ((i * 37) % 500));

// ---- child processes: one engine, one model, one thread count -------------------------------------

async function worker(engine: string, file: string, threads: number): Promise<void> {
  const timed = async (f: () => Promise<void> | void): Promise<Timing> => {
    const c0 = process.cpuUsage(), t0 = performance.now();
    await f();
    const t = performance.now() - t0, c = process.cpuUsage(c0);
    return { ms: t, cpuMs: (c.user + c.system) / 1000 };
  };
  let run: (j: Job) => Promise<Timing>;
  if (engine === "rosetta") {
    const { Engine } = await import("../src/model/engine.js");
    const { Recorder } = await import("../src/model/capture.js");
    const { forward } = await import("../src/model/forward.js");
    const e = await Engine.open(file, { numerics: "ggml", threads });
    run = async (j) => {
      const st = e.newState(80);
      const rec = j.capture ? new Recorder() : null;
      if (j.kind === "prefill") return timed(() => void forward(e.model, prompt(j.n), st, { logits: "last", capture: rec?.hook }));
      forward(e.model, prompt(7), st, { logits: "last" });
      return timed(() => {
        for (let i = 0; i < j.n; i++) forward(e.model, [100 + i], st, { logits: "last", capture: rec?.hook });
      });
    };
  } else {
    const { loadLlamaBridge } = await import("../src/bindings/llama.js");
    const b = loadLlamaBridge();
    const once = async (tokens: number[], gen: number): Promise<Timing> => {
      const c0 = process.cpuUsage();
      const r = await b.run({ model: file, tokens, gen, threads, callback: false });
      const c = process.cpuUsage(c0);
      return { ms: r.decodeMs, cpuMs: (c.user + c.system) / 1000 };
    };
    run = async (j) => {
      if (j.kind === "prefill") return once(prompt(j.n), 0);
      // decode: the 16 steps after a 7-token prompt = (prompt + 16 steps) - (prompt alone)
      const base = await once(prompt(7), 0), all = await once(prompt(7), j.n);
      return { ms: all.ms - base.ms, cpuMs: all.cpuMs - base.cpuMs };
    };
  }
  const pair = async (m: PairJob) => {
    const plain: Job = { kind: m.kind, n: m.n, capture: false }, cap: Job = { ...plain, capture: true };
    if (m.pair === "plain-first") return { plain: await run(plain), capture: await run(cap) };
    const capture = await run(cap);
    return { plain: await run(plain), capture };
  };
  process.on("message", (m: Job | PairJob | "rss") => {
    if (m === "rss") return void process.send!({ rssMb: process.resourceUsage().maxRSS / 1024 });
    ("pair" in m ? pair(m) : run(m)).then((t) => process.send!(t), (err) => process.send!({ error: String(err) }));
  });
  process.send!({ ready: true });
}

class Child {
  private readonly p: ChildProcess;
  private waiting: ((m: unknown) => void) | null = null;
  readonly ready: Promise<unknown>;

  constructor(engine: string, file: string, threads: number) {
    this.p = fork(fileURLToPath(import.meta.url), ["--worker", engine, file, String(threads)], { stdio: ["ignore", "ignore", "ignore", "ipc"] });
    this.ready = this.next().then((m) => {
      if ((m as { error?: string }).error) throw new Error(`${engine} worker: ${(m as { error: string }).error}`);
    });
    this.p.on("message", (m) => {
      const w = this.waiting;
      this.waiting = null;
      w?.(m);
    });
    this.p.on("exit", (code) => this.waiting?.({ error: `${engine} worker exited (${code})` }));
  }

  private next(): Promise<unknown> {
    return new Promise((resolve) => (this.waiting = resolve));
  }

  async ask<T>(m: Job | PairJob | "rss"): Promise<T> {
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

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const load = () => os.loadavg().map((l) => l.toFixed(1)).join(" ");

async function benchModel(label: string, file: string, rss: Map<string, number>): Promise<void> {
  for (const threads of [1, 2]) {
    const ro = new Child("rosetta", file, threads), ll = new Child("llama", file, threads);
    await Promise.all([ro.ready, ll.ready]);
    for (const [kind, n, name] of CASES) {
      const job: Job = { kind, n, capture: false };
      await ro.ask(job); // warm-up (page-in of the mapping, first context)
      await ll.ask(job);
      const r: Timing[] = [], l: Timing[] = [], c: Timing[] = [];
      // each round: llama.cpp, then rosetta without and with capture back to back (the order flips every
      // round, so neither variant always runs first after llama.cpp's cold caches and sleeping workers)
      for (let i = 0; i < REPS; i++) {
        l.push(await ll.ask<Timing>(job));
        const p = await ro.ask<{ plain: Timing; capture: Timing }>({ kind, n, pair: i % 2 === 0 ? "plain-first" : "capture-first" });
        r.push(p.plain);
        c.push(p.capture);
      }
      const rt = (n * 1000) / median(r.map((x) => x.ms)), lt = (n * 1000) / median(l.map((x) => x.ms));
      const rc = median(r.map((x) => x.cpuMs)), lc = median(l.map((x) => x.cpuMs));
      // ratios of runs made within one round (adjacent in time): this VM's memory bandwidth changes phase
      // every few seconds, which shifts whole rounds; a median of per-round ratios cancels most of that
      const paired = (xs: Timing[], ys: Timing[], f: (t: Timing) => number) => median(xs.map((x, i) => f(x) / f(ys[i])));
      const ratio = paired(l, r, (x) => x.ms);
      const cap = (paired(c, r, (x) => x.ms) - 1) * 100;
      const capCpu = (paired(c, r, (x) => x.cpuMs) - 1) * 100;
      console.log(
        `${label.padEnd(13)} ${String(threads).padEnd(7)} ${name.padEnd(10)} ${rt.toFixed(1).padStart(8)} ${lt.toFixed(1).padStart(9)} ` +
          `${ratio.toFixed(2).padStart(5)} ${rc.toFixed(0).padStart(8)} ${lc.toFixed(0).padStart(8)} ${cap.toFixed(1).padStart(7)}% ${capCpu.toFixed(1).padStart(7)}%  ${load()}`,
      );
    }
    for (const [k, ch] of [["rosetta", ro], ["llama", ll]] as const) {
      const { rssMb } = await ch.ask<{ rssMb: number }>("rss");
      rss.set(`${label} ${k}`, Math.max(rss.get(`${label} ${k}`) ?? 0, rssMb));
      ch.close();
    }
  }
}

async function main(): Promise<void> {
  // BENCH_MODELS: a comma-separated subset of the labels below (default: all)
  const want = process.env.BENCH_MODELS?.split(",").map((x) => x.trim());
  const models: [string, string][] = [];
  for (const [label, shape, q] of [["1.5b Q4_K_M", "1.5b", "Q4_K_M"], ["1.5b Q8_0", "1.5b", "Q8_0"], ["7b Q4_K_M", "7b", "Q4_K_M"]] as const)
    if (!want || want.includes(label)) models.push([label, await modelFile(shape, q)]);
  const s = SHAPES;
  console.log(
    `engine bench: qwen2, vocab ${DIMS.nVocab}; 1.5b = n_embd 1536, 12 heads, 2 kv, ffn 8960, ${s["1.5b"].nLayer} layers; ` +
      `7b = n_embd 3584, 28 heads, 4 kv, ffn 18944, ${s["7b"].nLayer} layer(s); medians of ${REPS}, engines alternating, each in its own process; ` +
      `${os.cpus()[0].model}, ${os.cpus().length} cores; ${new Date().toISOString()}`,
  );
  console.log("model         threads case       rosetta  llama.cpp ratio  ros cpu  lla cpu  capture  cap cpu  load 1/5/15");
  console.log("                                  tok/s      tok/s         ms/run   ms/run     wall      cpu");
  const rss = new Map<string, number>();
  for (const [label, file] of models) await benchModel(label, file, rss);
  for (const [label, file] of models) {
    const mb = statSync(file).size / 2 ** 20;
    console.log(
      `peak RSS ${label}: rosetta ${rss.get(`${label} rosetta`)!.toFixed(0)} MB, llama.cpp ${rss.get(`${label} llama`)!.toFixed(0)} MB; ` +
        `model file ${mb.toFixed(0)} MB (target: <= ${(mb + 200).toFixed(0)} MB)`,
    );
  }
}

if (process.argv[2] === "--worker") {
  worker(process.argv[3], process.argv[4], Number(process.argv[5])).catch((e) => {
    process.send?.({ error: String(e) });
    process.exit(1);
  });
} else {
  main().catch((e) => {
    console.error(e);
    process.exitCode = 1;
  });
}
