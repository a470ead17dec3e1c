/**
 * `npm run bench:kernels`: dequantization throughput (GB/s of input bytes) of rosetta next to llama.cpp's
 * to_float (prebuilt libggml-base.so) on the same data in the same run, per type and ISA path. Runs
 * alternate A B A B; each figure is the median over the repetitions. Output checked bit-exact first.
 *
 * Options (env): BENCH_MB (input MB per type, default 4), BENCH_REPS (default 15), BENCH_TYPES (comma list).
 */
import os from "node:os";

import type { NativeTypeTraits } from "../src/bindings/kernels-addon.js";
import { loadKernelsAddon } from "../src/bindings/kernels-addon.js";
import { openGgmlReference, randomBlocks } from "./kernels-data.js";
import { median, secondsPerCall } from "./timing.js";

const addon = loadKernelsAddon();
const MB = Number(process.env.BENCH_MB ?? 4);
const REPS = Number(process.env.BENCH_REPS ?? 15);
const only = process.env.BENCH_TYPES?.split(",");

/** Seconds per call, repeated until ~20 ms have passed. */
const time = (fn: () => void): number => secondsPerCall(fn, 20);

function sameBits(a: Float32Array, b: Float32Array): boolean {
  return Buffer.compare(Buffer.from(a.buffer, a.byteOffset, a.byteLength), Buffer.from(b.buffer, b.byteOffset, b.byteLength)) === 0;
}

function benchType(t: NativeTypeTraits, isas: string[], haveRef: boolean): void {
  const nBlocks = Math.max(1, Math.floor((MB * 1024 * 1024) / t.typeSize));
  const n = nBlocks * t.blockSize;
  const bytes = nBlocks * t.typeSize;
  const src = randomBlocks(t.name, t.typeSize, nBlocks, mulberry(t.id + 1));
  const ours = new Float32Array(n);
  const theirs = new Float32Array(n);
  const ggml = t.id === 0 || !haveRef
    ? null
    : () => addon.ggmlRefToFloat(src, 0, bytes, t.id, n, theirs);
  for (const isa of isas) {
    addon.setIsa(isa);
    const run = () => addon.dequantize(src, 0, bytes, t.id, n, ours);
    run();
    let exact = "n/a";
    if (ggml) {
      ggml();
      exact = sameBits(ours, theirs) ? "yes" : "NO";
    }
    const a: number[] = [];
    const b: number[] = [];
    for (let r = 0; r < REPS; r++) {
      a.push(time(run));
      if (ggml) b.push(time(ggml));
    }
    const gbA = bytes / median(a) / 1e9;
    const gbB = ggml ? bytes / median(b) / 1e9 : NaN;
    const ratio = ggml ? (gbA / gbB).toFixed(2) + "x" : "-";
    console.log(
      [t.name.padEnd(7), isa.padEnd(7), (bytes / 1048576).toFixed(1).padStart(5) + " MB", gbA.toFixed(2).padStart(7),
        ggml ? gbB.toFixed(2).padStart(7) : "      -", ratio.padStart(7), exact.padStart(5)].join("  "),
    );
  }
}

function mulberry(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let x = Math.imul(s ^ (s >>> 15), s | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

function main(): void {
  const feats = addon.cpuFeatures();
  const ref = openGgmlReference(addon);
  const before = addon.isa();
  console.log(`rosetta bench:kernels  ${new Date().toISOString().slice(0, 10)}  ${os.cpus()[0]?.model ?? "cpu"}  node ${process.versions.node}`);
  console.log(`ISA paths: ${feats.isas.join(", ")} (best ${feats.best}); ${MB} MB input per type, ${REPS} alternating reps, medians`);
  if (!ref.ok) console.log(`ggml reference unavailable: ${ref.reason} (rosetta figures only)`);
  console.log(["type   ", "isa    ", "  input ", "rosetta", "   ggml", "  ratio", "exact"].join("  ") + "   (GB/s of input bytes)");
  const types = addon.typeTraits().filter((t) => t.supported && t.id < 128 && (!only || only.includes(t.name)));
  try {
    for (const t of types) benchType(t, feats.isas, ref.ok);
  } finally {
    addon.setIsa(before);
  }
}

main();
