/**
 * The llama.cpp source that node-llama-cpp ships as a git bundle (node_modules/node-llama-cpp/llama/gitRelease.bundle),
 * checked out on demand into tests/fixtures/generated/llama.cpp-src (gitignored). Only the paths asked for are
 * checked out (e.g. ["models"]), which takes about 2 s the first time.
 *
 *   const src = llamaSource(["models"]);
 *   if (!src.dir) console.warn(`skipping: ${src.reason}`);
 *   describe.skipIf(!src.dir)("...", () => { readFileSync(join(src.dir!, "models/ggml-vocab-llama-spm.gguf.inp")) });
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

/** The repository root: nearest parent with package.json and node_modules (works from tests/ and dist/tests/). */
function findRepo(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!(existsSync(join(dir, "package.json")) && existsSync(join(dir, "node_modules")))) {
    const up = dirname(dir);
    if (up === dir) break;
    dir = up;
  }
  return dir;
}
const REPO = findRepo();
export const LLAMA_BUNDLE = join(REPO, "node_modules/node-llama-cpp/llama/gitRelease.bundle");
export const LLAMA_SOURCE_DIR = join(REPO, "tests/fixtures/generated/llama.cpp-src");

export interface LlamaSource {
  /** Checked-out source root, or undefined when unavailable. */
  dir?: string;
  /** Why it is unavailable. */
  reason?: string;
}

/** Written after a path is fully checked out (its directory alone may be half-written by another worker). */
function doneMarker(dir: string, path: string): string {
  return join(dir, `.rosetta-done-${path.replace(/[\\/]/g, "_")}`);
}

function git(args: string[], cwd?: string): string {
  return execFileSync("git", args, { cwd, stdio: ["ignore", "pipe", "pipe"] }).toString().trim();
}

/** Ensures `paths` (relative to the llama.cpp root) are checked out; returns the root or why it is unavailable. */
export function llamaSource(paths: string[]): LlamaSource {
  if (!existsSync(LLAMA_BUNDLE)) {
    return { reason: `node-llama-cpp is not installed (no ${LLAMA_BUNDLE})` };
  }
  try {
    const dir = LLAMA_SOURCE_DIR;
    if (!existsSync(join(dir, ".git"))) {
      // clone into a private temp dir, then rename: concurrent test files never see a half-made clone
      const tmp = `${dir}.tmp-${process.pid}`;
      rmSync(tmp, { recursive: true, force: true });
      mkdirSync(dirname(dir), { recursive: true });
      git(["clone", "-q", "--no-checkout", LLAMA_BUNDLE, tmp]);
      try {
        renameSync(tmp, dir);
      } catch {
        rmSync(tmp, { recursive: true, force: true }); // another worker won the race
      }
    }
    // another test worker may hold git's index lock: retry for a while
    for (let attempt = 0; ; attempt++) {
      const missing = paths.filter((p) => !existsSync(doneMarker(dir, p)));
      if (missing.length === 0) return { dir };
      try {
        git(["checkout", "-q", "HEAD", "--", ...missing], dir);
        for (const p of missing) writeFileSync(doneMarker(dir, p), "");
      } catch (e) {
        if (attempt >= 20) throw e;
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 500);
      }
    }
  } catch (e) {
    return { reason: `cannot check out the llama.cpp source from ${LLAMA_BUNDLE}: ${(e as Error).message}` };
  }
}
