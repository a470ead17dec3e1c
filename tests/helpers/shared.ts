/**
 * Where the real models live: ../shared/models beside the checkout (CI puts it there). Tests that need
 * them use `describe.skipIf(!HAVE_SHARED)` and print why once.
 */
import { existsSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
export const SHARED_DIR = process.env.ROSETTA_SHARED_DIR ?? path.resolve(REPO_ROOT, "../shared");
export const MODELS_DIR = path.join(SHARED_DIR, "models");
export const HAVE_SHARED = existsSync(path.join(MODELS_DIR, "stories260K.gguf"));

export const STORIES = path.join(MODELS_DIR, "stories260K.gguf");
export const TINYLLAMA = path.join(MODELS_DIR, "TinyLLama-v0-Q4_0.gguf");
export const BAD_V1 = path.join(MODELS_DIR, "bad/stories260k-gguf-v1.gguf");
export const BAD_ROW172 = path.join(MODELS_DIR, "bad/stories260k-q8_0-row172.gguf");
export const APR_FOREIGN_DIR = path.join(SHARED_DIR, "fixtures/apr-foreign");

if (!HAVE_SHARED) {
  process.stderr.write(`[tests] ${MODELS_DIR} is absent: tests on real models are skipped (put ../shared beside the checkout to run them)\n`);
}
