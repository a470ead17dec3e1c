/** Shared helpers of the engine tests: model paths, metrics (docs/engine.md gives the definitions). */
import { existsSync } from "node:fs";
import path from "node:path";

export const SHARED_MODELS = path.resolve(process.cwd(), "../shared/models");
export const HAVE_MODELS = existsSync(path.join(SHARED_MODELS, "stories260K.gguf"));
if (!HAVE_MODELS) console.warn(`engine tests: skipping model tests, ${SHARED_MODELS} is absent`);
export const STORIES = path.join(SHARED_MODELS, "stories260K.gguf");
export const TINYLLAMA = path.join(SHARED_MODELS, "TinyLLama-v0-Q4_0.gguf");

/** ||a - b|| / ||a|| with a the reference. */
export function relL2(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length mismatch ${a.length} vs ${b.length}`);
  let num = 0, den = 0;
  for (let i = 0; i < a.length; i++) {
    if (!Number.isFinite(a[i]) || !Number.isFinite(b[i])) return Infinity;
    num += (a[i] - b[i]) ** 2;
    den += a[i] ** 2;
  }
  return den === 0 ? (num === 0 ? 0 : Infinity) : Math.sqrt(num / den);
}

/** Energy NMSE: sum (a-b)^2 / sum a^2. */
export function nmse(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const r = relL2(a, b);
  return r * r;
}
