#!/usr/bin/env node
// `npm run bench:matmul [-- TYPE ROWS COLS TOKENS THREADS [REPS] [COPIES]]`: builds bench/matmul.cc against the
// kernel library of the last native build (scripts/kernel-tool.js) and runs it; with no arguments, the
// shapes docs/engine.md quotes (a 8960 x 1536 matrix, as Qwen2.5-1.5B's ffn_up, times 64 tokens and
// times 1, in Q4_K, Q6_K and Q8_0, 1 and 2 threads).
import { buildKernelTool, runKernelTool } from "./kernel-tool.js";

const exe = buildKernelTool("matmul");
const args = process.argv.slice(2);
const runs = args.length ? [args] : ["q4_K", "q6_K", "q8_0"].flatMap((t) => ["64", "1"].flatMap((tok) => ["1", "2"].map((th) => [t, "8960", "1536", tok, th])));
for (const a of runs) runKernelTool(exe, a);
