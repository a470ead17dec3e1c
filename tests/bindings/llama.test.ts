/**
 * Loading the llama.cpp bridge (src/bindings/llama.ts) when its addon is not built: a
 * MissingComponentError (exit code 2) that names the missing file and what to run, and a failed load
 * leaves nothing cached (the next call fails the same way, not with a half-initialised bridge).
 * The build folder is pointed at one that does not exist through ROSETTA_BUILD_DIR, read at load time;
 * the module is imported fresh so no bridge loaded earlier in this process is reused.
 */
import path from "node:path";

import { afterEach, describe, expect, it, vi } from "vitest";

import type { MissingComponentError } from "../../src/util/errors.js";
import { REPO_ROOT } from "../helpers/shared.js";

const saved = process.env.ROSETTA_BUILD_DIR;
afterEach(() => {
  if (saved === undefined) delete process.env.ROSETTA_BUILD_DIR;
  else process.env.ROSETTA_BUILD_DIR = saved;
});

describe("missing llama.cpp bridge", () => {
  it.skipIf(process.platform !== "linux" || process.arch !== "x64")("names the missing file and `npm run build:native`, exit code 2", async () => {
    process.env.ROSETTA_BUILD_DIR = "build-does-not-exist";
    vi.resetModules();
    const { loadLlamaBridge } = await import("../../src/bindings/llama.js");
    const { MissingComponentError: FreshMissing } = await import("../../src/util/errors.js");
    const missing = path.join(REPO_ROOT, "build-does-not-exist", "Release", "rosetta_llama.node");
    for (const attempt of [1, 2]) {
      let err: unknown;
      try {
        loadLlamaBridge();
      } catch (e) {
        err = e;
      }
      expect(err, `attempt ${attempt}`).toBeInstanceOf(FreshMissing);
      const e = err as MissingComponentError;
      expect(e.name).toBe("MissingComponentError");
      expect(e.exitCode).toBe(2);
      expect(e.message).toBe(`the llama.cpp bridge is not built (${missing} is missing); run \`npm run build:native\``);
    }
  });
});
