/**
 * Loading the llama.cpp bridge for the tests that need it (reference, compare, cli, trace): one backend variant per test
 * file (each file is its own process), or explains once why the tests are skipped.
 */
import { loadLlamaBridge, type LlamaBridge } from "../../src/bindings/llama.js";
import { MissingComponentError } from "../../src/util/errors.js";

export function tryBridge(backend?: string): LlamaBridge | null {
  try {
    return loadLlamaBridge(backend);
  } catch (e) {
    if (e instanceof MissingComponentError) {
      process.stderr.write(`[tests] llama.cpp reference tests skipped: ${e.message}\n`);
      return null;
    }
    throw e;
  }
}

/** Bit-level equality of two float arrays (NaN payloads included). */
export function sameBits(a: Float32Array, b: Float32Array): boolean {
  if (a.length !== b.length) return false;
  const x = new Uint32Array(a.buffer, a.byteOffset, a.length), y = new Uint32Array(b.buffer, b.byteOffset, b.length);
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return false;
  return true;
}
