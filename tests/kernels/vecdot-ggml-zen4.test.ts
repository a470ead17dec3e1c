/**
 * The kernel oracle of vecdot-ggml.test.ts against llama.cpp's zen4 CPU variant (what `auto` loads on an
 * AVX-512 Zen CPU, and the variant bench:engine's `auto` ratio runs here): every quantized type on every
 * ISA path bit-identical to its vec_dot. Skips with a message where this CPU cannot run zen4.
 */
process.env.VECDOT_VARIANT = "zen4";
await import("./vecdot-ggml.test.js");
