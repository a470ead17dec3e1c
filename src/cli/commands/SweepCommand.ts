/**
 * `rosetta sweep MODEL --prompt TEXT`: llama.cpp over a grid of run conditions (device x flash attention x
 * KV type x micro-batch x offload), each against the CPU reference path (or rosetta's exact numerics); the
 * table, the smallest condition set that diverges, and that one traced to its first divergent point
 * (src/pipeline/sweep.ts, docs/conditions.md). Progress on stderr. Exit: 0 swept (under --assert-match:
 * no condition diverged), 1 a condition diverged under --assert-match, 2 bad input or no such device.
 */
import type { CommandModule } from "yargs";

import { EXIT, InputError } from "../../util/errors.js";
import { KV_TYPES, type KvType } from "../../reference/conditions.js";
import { checkWritable, writeOutput } from "../output.js";
import { parseThreshold, parseTokens } from "./CompareCommand.js";

interface SweepArgs {
  model: string;
  prompt?: string;
  tokens?: string;
  devices?: string;
  "flash-attn"?: string;
  "kv-types"?: string;
  ubatch?: string;
  "gpu-layers"?: string;
  reference: string;
  threshold?: string;
  threads?: number;
  json?: string;
  trace: boolean;
  "assert-match"?: boolean;
  quiet?: boolean;
}

function list(v: string | undefined): string[] | undefined {
  return v === undefined ? undefined : String(v).split(/[\s,]+/).filter(Boolean);
}

function ints(flag: string, v: string | undefined, min: number): number[] | undefined {
  return list(v)?.map((x) => {
    const n = x === "all" ? -1 : x === "prompt" ? 0 : Number(x);
    if (!Number.isInteger(n) || n < min) throw new InputError(`${flag}: '${x}' is not an integer >= ${min}`);
    return n;
  });
}

export const sweepCommand: CommandModule<object, SweepArgs> = {
  command: "sweep <model>",
  describe: "Run llama.cpp over a grid of run conditions (backend, flash attention, KV type, micro-batch, offload) and find the smallest set that diverges",
  builder: (y) =>
    y
      .positional("model", { type: "string", demandOption: true, description: "GGUF model file" })
      .option("prompt", { alias: "p", type: "string", description: "Prompt (llama.cpp tokenizes it)" })
      .option("tokens", { type: "string", description: "Token ids, comma separated" })
      .option("devices", { type: "string", description: "Devices, comma separated: cpu, vulkan, vulkan:N (default cpu,vulkan; vulkan is left out with a note when there is no Vulkan device, an error when asked for)" })
      .option("flash-attn", { type: "string", description: "Flash attention settings: off,on (default both)" })
      .option("kv-types", { type: "string", description: `KV cache types (default f32,f16,q8_0,q4_0; known: ${KV_TYPES.join(", ")}); a quantized V cache needs flash attention` })
      .option("ubatch", { type: "string", description: "Micro-batch sizes; prompt (or 0) = the prompt as one ubatch (default prompt and a third of the prompt)" })
      .option("gpu-layers", { type: "string", description: "Offloaded layers on a GPU device; all (or -1) = every layer (default all and half the layers)" })
      .option("reference", { choices: ["cpu", "exact"] as const, default: "cpu", description: "Compare each condition with llama.cpp's CPU reference path (F32 K/V, flash attention off, one ubatch) or rosetta's exact numerics" })
      .option("threshold", { type: "string", description: "Logits energy NMSE bound (default 1e-3, widened by the measured conditions band of the weight type)" })
      .option("threads", { type: "number", description: "llama.cpp threads" })
      .option("trace", { type: "boolean", default: true, description: "Trace the smallest diverging condition to its first divergent point (--no-trace to skip)" })
      .option("json", { type: "string", description: "Write the sweep as JSON to FILE ('-': stdout instead of the table)" })
      .option("assert-match", { type: "boolean", description: "Exit 1 when any condition diverges" })
      .check((a) => {
        if ((a.prompt === undefined) === (a.tokens === undefined)) throw new InputError("give exactly one of --prompt or --tokens");
        parseThreshold(a.threshold);
        for (const f of list(a["flash-attn"]) ?? []) if (f !== "on" && f !== "off") throw new InputError(`--flash-attn: '${f}': expected on or off`);
        for (const k of list(a["kv-types"]) ?? []) if (!(KV_TYPES as readonly string[]).includes(k)) throw new InputError(`--kv-types: '${k}': expected one of ${KV_TYPES.join(", ")}`);
        ints("--ubatch", a.ubatch, 0);
        ints("--gpu-layers", a["gpu-layers"], -1);
        return true;
      })
      .example('GGML_VK_VISIBLE_DEVICES=0 rosetta sweep model.gguf -p "Once upon a time"', "the default grid, Vulkan (llvmpipe) included")
      .example("rosetta sweep model.gguf --tokens 1,2,3 --devices cpu --kv-types f32,q4_0 --flash-attn on --json -", "one axis, JSON on stdout")
      .epilogue("Exit codes: 0 swept (with --assert-match: nothing diverged), 1 a condition diverged under --assert-match, 2 bad input or a device that is not there, 3 internal error."),
  handler: async (a) => {
    if (a.json && a.json !== "-") checkWritable(a.json, "--json");
    const { runSweep, renderSweep } = await import("../../pipeline/sweep.js");
    const devices = list(a.devices);
    const r = await runSweep({
      model: a.model,
      prompt: a.prompt,
      tokens: parseTokens(a.tokens),
      grid: {
        ...(devices ? { devices } : {}),
        ...(a["flash-attn"] !== undefined ? { flashAttn: list(a["flash-attn"])!.map((x) => x === "on") } : {}),
        ...(a["kv-types"] !== undefined ? { kvTypes: list(a["kv-types"]) as KvType[] } : {}),
        ...(a.ubatch !== undefined ? { ubatches: ints("--ubatch", a.ubatch, 0)! } : {}),
        ...(a["gpu-layers"] !== undefined ? { gpuLayers: ints("--gpu-layers", a["gpu-layers"], -1)! } : {}),
      },
      reference: a.reference as "cpu" | "exact",
      threshold: parseThreshold(a.threshold),
      threads: a.threads,
      trace: a.trace,
      progress: (line) => {
        if (!a.quiet) process.stderr.write(`[sweep] ${line}\n`);
      },
    });
    const json = () => JSON.stringify(r, (k, v) => (k === "comparison" ? { verdict: v.verdict, firstDivergence: v.firstDivergence, arbiter: v.arbiter, notes: v.notes, points: v.points } : v), 2) + "\n";
    if (a.json === "-") process.stdout.write(json());
    else process.stdout.write(renderSweep(r));
    if (a.json && a.json !== "-") writeOutput(a.json, json(), "--json");
    process.exitCode = a["assert-match"] && r.rows.some((x) => x.status === "diverged") ? EXIT.DIVERGENCE : EXIT.OK;
  },
};
