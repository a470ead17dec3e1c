/**
 * The transformers engine: runs a Hugging Face model folder (config.json + *.safetensors) or a GGUF file
 * (transformers' own GGUF loading) in PyTorch on the CPU, in a Python worker started here
 * (`python -m rosetta_trace.hf_engine`, python/rosetta_trace/hf_engine.py), and reads back the trace it
 * wrote (docs/trace-format.md). The Python part is optional: `npm run python:setup` installs it into
 * .venv-python/; without it (or without torch there) the run fails with one line (exit 2).
 * docs/transformers-engine.md.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";

import { repoRoot } from "../bindings/paths.js";
import { readTrace, readTraceTensors } from "../trace/io.js";
import type { F32Tensor } from "../trace/safetensors.js";
import type { Trace, TraceRunOptions } from "../trace/types.js";
import { InputError, MissingComponentError, RosettaError } from "../util/errors.js";

export interface TransformersTraceOptions extends TraceRunOptions {
  /** torch dtype the model runs in (default float32). */
  dtype?: "float32" | "bfloat16" | "float16";
}

export const TRANSFORMERS_DTYPES = ["float32", "bfloat16", "float16"] as const;

/** The Python that runs the worker: $ROSETTA_PYTHON, else the project's .venv-python. */
export function transformersPython(): string {
  return process.env.ROSETTA_PYTHON ?? path.join(repoRoot(), ".venv-python", "bin", "python");
}

const SETUP = "install it with `npm run python:setup` (docs/transformers-engine.md)";

/** The torch/transformers versions the worker would run, or null with why not (no Python part, no torch). */
export function transformersAvailable(): { ok: true; versions: Record<string, unknown> } | { ok: false; why: string } {
  const py = transformersPython();
  if (!existsSync(py)) return { ok: false, why: `the transformers engine needs the Python part (${py} is absent): ${SETUP}` };
  const r = spawnSync(py, ["-m", "rosetta_trace.hf_engine", "--versions"], { encoding: "utf8", env: workerEnv() });
  if (r.status !== 0) {
    const line = lastLine(r.stderr) || r.error?.message || `exit ${String(r.status)}`;
    return { ok: false, why: `the transformers engine cannot start in ${py}: ${line.replace(/^transformers engine: /, "")}` };
  }
  return { ok: true, versions: JSON.parse(r.stdout) as Record<string, unknown> };
}

function workerEnv(): NodeJS.ProcessEnv {
  const pkg = path.join(repoRoot(), "python");
  // the package from this checkout (an editable install points there too); no GPU is used: a CPU run
  return { ...process.env, PYTHONPATH: [pkg, process.env.PYTHONPATH].filter(Boolean).join(path.delimiter), CUDA_VISIBLE_DEVICES: "", TOKENIZERS_PARALLELISM: "false", HF_HUB_OFFLINE: "1", PYTHONWARNINGS: "ignore" };
}

function lastLine(s: string | null | undefined): string {
  const lines = (s ?? "").split("\n").map((l) => l.trim()).filter(Boolean);
  return lines[lines.length - 1] ?? "";
}

export interface TransformersTraceResult {
  trace: Trace;
  tensors: Map<string, F32Tensor>;
}

export function runTransformersTrace(o: TransformersTraceOptions): TransformersTraceResult {
  if (o.tokens && o.prompt !== undefined) throw new InputError("give either a prompt or token ids, not both");
  if (!o.tokens && o.prompt === undefined) throw new InputError("give a prompt (--prompt) or token ids (--tokens)");
  if (!existsSync(o.model)) throw new InputError(`${o.model}: no such file or folder`);
  const py = transformersPython();
  if (!existsSync(py)) throw new MissingComponentError(`the transformers engine needs the Python part (${py} is absent): ${SETUP}`);
  const dir = mkdtempSync(path.join(os.tmpdir(), "rosetta-transformers-"));
  try {
    const base = path.join(dir, "trace");
    const args = ["-m", "rosetta_trace.hf_engine", "--model", o.model, "--out", base, "--gen", String(o.gen ?? 0), "--top", String(o.top ?? 10), "--dtype", o.dtype ?? "float32"];
    if (o.tokens) args.push("--tokens", o.tokens.join(","));
    else args.push("--prompt", o.prompt!);
    if (o.forced?.length) args.push("--forced", o.forced.join(","));
    if (o.threads) args.push("--threads", String(o.threads));
    if (o.modelLabel) args.push("--label", o.modelLabel);
    for (const g of o.full ?? []) args.push("--full", g);
    const r = spawnSync(py, args, { encoding: "utf8", env: workerEnv(), maxBuffer: 64 << 20 });
    if (r.error) throw new MissingComponentError(`the transformers engine could not start ${py}: ${r.error.message}`);
    if (r.status !== 0) {
      const line = lastLine(r.stderr).replace(/^transformers engine: /, "") || `exit ${String(r.status ?? r.signal)}`;
      // a Python without the package's own dependencies (numpy) fails before the worker can say so
      if (/^(ModuleNotFoundError|ImportError)\b/.test(line)) throw new MissingComponentError(`the transformers engine cannot start in ${py}: ${line}: ${SETUP}`);
      // exit 2: the worker's one line about the input or a missing package; anything else is a crash
      if (r.status === 2) {
        if (/needs torch and transformers/.test(line)) throw new MissingComponentError(line);
        throw new InputError(`transformers engine: ${line}`);
      }
      throw new RosettaError(`transformers engine failed (exit ${String(r.status ?? r.signal)}): ${line}`, "ROSETTA_TRANSFORMERS", 3);
    }
    const json = base + ".json";
    const trace = readTrace(json);
    const tensors = readTraceTensors(json, trace);
    if (o.forced?.length) trace.input.forced = true;
    return { trace, tensors };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
