/**
 * The llama.cpp reference bridge (src/bindings/llama-addon.ts types its addon), loaded lazily: nothing is
 * loaded until a command needs llama.cpp, so rosetta works without the optional node-llama-cpp packages;
 * when they (or the built bridge) are missing, the error names what to install. See
 * docs/llamacpp-bridge.md.
 */
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";

import { InputError, MissingComponentError } from "../util/errors.js";
import { loadLlamaAddon, type NativeGpuBackend, type NativeRunOptions, type NativeRunResult } from "./llama-addon.js";
import { repoRoot } from "./paths.js";

export type { NativeDevice, NativeGpuBackend, NativePoint, NativeRunOptions, NativeRunResult, StatsJs } from "./llama-addon.js";

export const LLAMA_PACKAGES = { "node-llama-cpp": "3.22.1", "@node-llama-cpp/linux-x64": "3.22.1" } as const;
export const INSTALL_HINT = "npm install @node-llama-cpp/linux-x64@3.22.1 node-llama-cpp@3.22.1";
/**
 * The file types quantize() takes, by llama-quantize's names (native/llama/tools.cc kFtypes; a test checks
 * this list against the bridge's own): what `rosetta convert in.gguf out.gguf --quantize TYPE` writes.
 */
export const LLAMA_FTYPES = [
  "F32", "F16", "BF16", "Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q8_0", "Q2_K", "Q2_K_S", "Q3_K_S", "Q3_K_M", "Q3_K_L",
  "Q4_K_S", "Q4_K_M", "Q5_K_S", "Q5_K_M", "Q6_K", "IQ4_NL", "IQ4_XS",
] as const;

/** GPU backends of the same llama.cpp release: the npm package that ships each (its bins folder holds libggml-<name>.so). */
export const GPU_PACKAGES: Record<string, { pkg: string; version: string; bins: string; hint: string }> = {
  vulkan: {
    pkg: "@node-llama-cpp/linux-x64-vulkan",
    version: "3.22.1",
    bins: "bins/linux-x64-vulkan",
    hint: "npm install @node-llama-cpp/linux-x64-vulkan@3.22.1, and a Vulkan driver (Debian: apt-get install mesa-vulkan-drivers libvulkan1 gives the software device llvmpipe, used with GGML_VK_VISIBLE_DEVICES=0)",
  },
};

export interface LlamaBridge {
  tag: string;
  commit: string;
  packages: Record<string, string>;
  backend: { requested: string; loaded: string; file: string; systemInfo: string };
  /**
   * Loads a GPU backend ("vulkan") next to the CPU variant (once per process) and lists its devices;
   * MissingComponentError when its package or the Vulkan loader library is missing.
   */
  gpu(name: string): NativeGpuBackend;
  run(o: NativeRunOptions): Promise<NativeRunResult>;
  quantize(input: string, output: string, ftype: string, o?: { pure?: boolean; threads?: number }): Promise<void>;
  tokenize(model: string, text: string, addSpecial: boolean, parseSpecial: boolean): number[];
  detokenize(model: string, ids: number[], removeSpecial?: boolean, unparseSpecial?: boolean): string;
}

/** Maps a native rejection to rosetta's error classes: a refused input is the user's problem (exit 2). */
export function llamaError(e: unknown): Error {
  const err = e as { code?: string; message?: string };
  if (err?.code === "LLAMA_INPUT") return new InputError(err.message ?? "llama.cpp refused the input");
  return e instanceof Error ? e : new Error(String(e));
}

function packageVersion(root: string, name: string): string | null {
  const pj = path.join(root, "node_modules", name, "package.json");
  return existsSync(pj) ? (JSON.parse(readFileSync(pj, "utf8")).version as string) : null;
}

let cached: { backend: string; bridge: LlamaBridge } | null = null;

/**
 * Loads and initialises the bridge with a CPU backend variant: "default" (haswell, else sse42, else
 * x64: a pin that runs on any x86-64 CI machine), a variant name ("zen4", "skylakex", ...), or "auto"
 * (llama.cpp picks the best for this CPU, as node-llama-cpp's own JS does). One variant per process;
 * without an argument, the variant already loaded (else "default").
 */
export function loadLlamaBridge(requested?: string): LlamaBridge {
  // No preference: reuse whatever this process already loaded.
  if (cached && requested === undefined) return cached.bridge;
  const backend = requested ?? "default";
  if (cached) {
    if (cached.backend !== backend)
      throw new InputError(`the llama.cpp backend is already '${cached.backend}' in this process; cannot switch to '${backend}'`);
    return cached.bridge;
  }
  if (process.platform !== "linux" || process.arch !== "x64")
    throw new MissingComponentError(`the llama.cpp reference needs linux-x64 (this is ${process.platform}-${process.arch})`);
  const root = repoRoot();
  const packages: Record<string, string> = {};
  for (const [name, want] of Object.entries(LLAMA_PACKAGES)) {
    const have = packageVersion(root, name);
    if (have !== want)
      throw new MissingComponentError(
        `the llama.cpp reference needs ${name}@${want} (${have ? `found ${have}` : "not installed"}); install it with \`${INSTALL_HINT}\``,
      );
    packages[name] = have;
  }
  const native = loadLlamaAddon();
  const binsDir = path.join(root, "node_modules/@node-llama-cpp/linux-x64/bins/linux-x64");
  let init;
  try {
    init = native.init({ binsDir, backend });
  } catch (e) {
    throw llamaError(e);
  }
  const info = native.info();
  const bridge: LlamaBridge = {
    tag: info.tag,
    commit: info.commit,
    packages,
    backend: { requested: init.backend, loaded: init.loaded, file: path.basename(init.file), systemInfo: init.systemInfo },
    gpu: (name) => {
      const spec = GPU_PACKAGES[name];
      if (!spec) throw new InputError(`no llama.cpp GPU backend '${name}' (known: ${Object.keys(GPU_PACKAGES).join(", ")})`);
      const have = packageVersion(root, spec.pkg);
      if (have !== spec.version)
        throw new MissingComponentError(`the llama.cpp ${name} backend needs ${spec.pkg}@${spec.version} (${have ? `found ${have}` : "not installed"}): ${spec.hint}`);
      try {
        return native.loadDevice({ binsDir: path.join(root, "node_modules", spec.pkg, spec.bins), name });
      } catch (e) {
        const err = llamaError(e);
        // the backend library is there but cannot load (no libvulkan.so.1): a missing system component
        if (err instanceof InputError) throw new MissingComponentError(`${err.message}; ${spec.hint}`);
        throw err;
      }
    },
    // Options are validated synchronously by the native side, work failures reject: map both.
    run: async (o) => {
      try {
        return await native.run(o);
      } catch (e) {
        throw llamaError(e);
      }
    },
    quantize: async (i, o, f, opts) => {
      try {
        await native.quantize(i, o, f, opts ?? {});
      } catch (e) {
        throw llamaError(e);
      }
    },
    tokenize: (m, t, a, p) => {
      try {
        return Array.from(native.tokenize(m, t, a, p));
      } catch (e) {
        throw llamaError(e);
      }
    },
    detokenize: (m, ids, r = false, u = false) => {
      try {
        return native.detokenize(m, ids, r, u);
      } catch (e) {
        throw llamaError(e);
      }
    },
  };
  cached = { backend, bridge };
  return bridge;
}
