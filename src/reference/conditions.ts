/**
 * Run conditions of a llama.cpp side (docs/conditions.md): the device and offload split, flash attention,
 * the KV cache type, batch and micro-batch sizes, threads. rosetta's reference path is the default (CPU,
 * flash attention off, F32 K/V, the prompt as one ubatch); any other setting is recorded in the trace and
 * makes the side's numerics differ from the default's, so the comparator applies the measured
 * conditions band (src/compare/tolerances.ts CONDITIONS_BANDS) instead of expecting bit-identity.
 */
import { InputError } from "../util/errors.js";

export const KV_TYPES = ["f32", "f16", "bf16", "q8_0", "q4_0", "q4_1", "q5_0", "q5_1", "iq4_nl"] as const;
export type KvType = (typeof KV_TYPES)[number];

export interface RunConditions {
  /** "cpu" (default) or a GPU backend, optionally with a device index: "vulkan", "vulkan:1". */
  device?: string;
  /** Layers offloaded to the device (-1, the default: all of them and the output layer). */
  gpuLayers?: number;
  flashAttn?: boolean;
  /** K and V cache type (default f32). A quantized V cache needs flash attention (llama.cpp refuses otherwise). */
  kvType?: KvType;
  /** Logical batch (n_batch) and micro-batch (n_ubatch); absent: the prompt as one ubatch. */
  batch?: number;
  ubatch?: number;
  threads?: number;
}

/** The GPU backend and device index of a device spelling, or null for the CPU. */
export function parseDevice(device: string | undefined): { backend: string; index: number } | null {
  if (device === undefined || device === "cpu") return null;
  const m = /^([a-z]+)(?::(\d+))?$/.exec(device);
  if (!m) throw new InputError(`--device '${device}': expected cpu, vulkan or vulkan:N`);
  return { backend: m[1], index: m[2] === undefined ? 0 : Number(m[2]) };
}

/** The settings that differ from rosetta's reference path, one word each ("vulkan ngl=all fa kv=q8_0 ub=4"). */
export function describeConditions(c: RunConditions | undefined): string {
  if (!c) return "";
  const parts: string[] = [];
  const dev = parseDevice(c.device);
  if (dev) parts.push(c.device!, `ngl=${c.gpuLayers === undefined || c.gpuLayers < 0 ? "all" : c.gpuLayers}`);
  if (c.flashAttn) parts.push("fa");
  if (c.kvType && c.kvType !== "f32") parts.push(`kv=${c.kvType}`);
  if (c.batch) parts.push(`b=${c.batch}`);
  if (c.ubatch) parts.push(`ub=${c.ubatch}`);
  return parts.join(" ");
}

/** The llama.cpp CPU variant whose kernels ggml mode reproduces (docs/engine.md "Numerics modes"). */
export const REFERENCE_CPU_VARIANT = "haswell";

/**
 * The CPU-side settings that leave the reference path, one word each: another CPU variant than the
 * reference's (`cpu=zen4`; `auto` on an AVX-512 or AMX CPU) and weight repacking (`repack`:
 * use_extra_bufts, the repacked gemm/gemv or, on an AMX CPU, ggml's AMX kernels). Both change the
 * float order of the matmuls (docs/engine.md "AMX"), so a side run with them is compared in a band.
 */
export function describeCpuPath(variant: string, repack: boolean): string {
  return [...(variant !== REFERENCE_CPU_VARIANT ? [`cpu=${variant}`] : []), ...(repack ? ["repack"] : [])].join(" ");
}

/** Whether any setting differs from the reference path (threads do not change the numerics of the CPU path). */
export function isDefaultConditions(c: RunConditions | undefined): boolean {
  return describeConditions(c) === "";
}

/** Checks the values the CLI or a sweep grid gives (one clear line, exit 2). */
export function checkConditions(c: RunConditions): RunConditions {
  parseDevice(c.device);
  if (c.kvType !== undefined && !(KV_TYPES as readonly string[]).includes(c.kvType)) throw new InputError(`--kv-type '${c.kvType}': expected one of ${KV_TYPES.join(", ")}`);
  for (const [k, v, min] of [["--gpu-layers", c.gpuLayers, -1], ["--batch", c.batch, 1], ["--ubatch", c.ubatch, 1], ["--threads", c.threads, 1]] as const)
    if (v !== undefined && (!Number.isInteger(v) || v < min)) throw new InputError(`${k} must be an integer >= ${min} (got ${v})`);
  if (c.gpuLayers !== undefined && !parseDevice(c.device)) throw new InputError("--gpu-layers needs a GPU --device (e.g. --device vulkan)");
  return c;
}

/**
 * A compact spelling of conditions for the command line: space- or comma-separated key=value pairs,
 * `device=vulkan gpu-layers=3 fa=on kv=q8_0 batch=512 ubatch=32 threads=2` (fa takes on/off).
 */
export function parseConditionsSpec(spec: string, flag = "--conditions"): RunConditions {
  const c: RunConditions = {};
  const int = (k: string, v: string) => {
    const n = Number(v);
    if (!Number.isInteger(n)) throw new InputError(`${flag}: ${k}=${v} is not an integer`);
    return n;
  };
  for (const part of spec.split(/[\s,]+/).filter(Boolean)) {
    const eq = part.indexOf("=");
    if (eq <= 0) throw new InputError(`${flag} '${spec}': expected key=value pairs (device, gpu-layers, fa, kv, batch, ubatch, threads)`);
    const k = part.slice(0, eq), v = part.slice(eq + 1);
    if (k === "device") c.device = v;
    else if (k === "gpu-layers" || k === "ngl") c.gpuLayers = v === "all" ? -1 : int(k, v);
    else if (k === "fa" || k === "flash-attn") {
      if (v !== "on" && v !== "off") throw new InputError(`${flag}: ${k}=${v}: expected on or off`);
      c.flashAttn = v === "on";
    } else if (k === "kv" || k === "kv-type") c.kvType = v as KvType;
    else if (k === "batch") c.batch = int(k, v);
    else if (k === "ubatch") c.ubatch = int(k, v);
    else if (k === "threads") c.threads = int(k, v);
    else throw new InputError(`${flag}: unknown setting '${k}' (device, gpu-layers, fa, kv, batch, ubatch, threads)`);
  }
  return checkConditions(c);
}
