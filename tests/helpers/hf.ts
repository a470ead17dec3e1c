/**
 * Real Hugging Face checkpoint folders for tests: made from a GGUF by transformers' own GGUF loading and
 * save_pretrained (python/rosetta_trace/hf_checkpoint.py, run with .venv-python's interpreter and the
 * repository's python/ on PYTHONPATH), cached under tests/fixtures/generated/hf/ by the GGUF's name (fixture
 * names carry their content hash), the options and the maker's own content hash. HAVE_HF_PYTHON says whether torch, transformers, gguf
 * and accelerate import; tests skip with HF_SKIP_REASON otherwise. Also: an F32 folder's safetensors
 * rewritten in memory (defect injection).
 */
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";

import { decodeSafetensors, encodeSafetensors, type F32Tensor } from "../../src/trace/safetensors.js";
import { GENERATED_DIR } from "../fixtures/lib/index.js";
import { REPO_ROOT } from "./shared.js";

export const PY = path.join(REPO_ROOT, ".venv-python/bin/python");
const PY_ENV = { ...process.env, PYTHONPATH: path.join(REPO_ROOT, "python"), PYTHONDONTWRITEBYTECODE: "1", TRANSFORMERS_VERBOSITY: "error", HF_HUB_OFFLINE: "1" };

function probe(): string | null {
  if (!existsSync(PY)) return `${PY} is absent (run \`npm run python:setup\`)`;
  const r = spawnSync(PY, ["-c", "import torch, transformers, gguf, accelerate"], { encoding: "utf8", timeout: 300_000, env: PY_ENV });
  return r.status === 0 ? null : `.venv-python lacks torch/transformers/gguf/accelerate (${(r.stderr.trim().split("\n").pop() ?? "").slice(0, 120)})`;
}

export const HF_SKIP_REASON = probe();
export const HAVE_HF_PYTHON = HF_SKIP_REASON === null;

export interface HfJob {
  gguf: string;
  dtype?: "float32" | "float16" | "bfloat16";
  /** e.g. "100KB": sharded with model.safetensors.index.json. */
  maxShardSize?: string;
}

/** The maker's own content hash: folders made by an older hf_checkpoint.py are not reused. */
const MAKER = createHash("sha256").update(readFileSync(path.join(REPO_ROOT, "python/rosetta_trace/hf_checkpoint.py"))).digest("hex").slice(0, 8);

function outOf(j: HfJob): string {
  const name = `${path.basename(j.gguf, ".gguf")}-${j.dtype ?? "float32"}${j.maxShardSize ? `-shard${j.maxShardSize}` : ""}-${MAKER}`;
  return path.join(GENERATED_DIR, "hf", name);
}

/** The folders for the jobs, made in one Python process (transformers imported once) where not cached. */
export function hfCheckpoints(jobs: HfJob[]): string[] {
  const outs = jobs.map(outOf);
  const todo = jobs.map((j, i) => ({ j, out: outs[i] })).filter(({ out }) => !existsSync(path.join(out, "config.json")));
  if (todo.length) {
    const tmpRoot = mkdtempSync(path.join(os.tmpdir(), "rosetta-hfmake-"));
    try {
      const spec = todo.map(({ j }, i) => ({ gguf: j.gguf, out: path.join(tmpRoot, String(i)), dtype: j.dtype ?? "float32", max_shard_size: j.maxShardSize ?? null }));
      const jobsFile = path.join(tmpRoot, "jobs.json");
      writeFileSync(jobsFile, JSON.stringify(spec));
      const r = spawnSync(PY, ["-m", "rosetta_trace.hf_checkpoint", "--batch", jobsFile], { encoding: "utf8", timeout: 600_000, env: PY_ENV });
      if (r.status !== 0) throw new Error(`hf_checkpoint exited ${r.status}: ${r.stderr.slice(-2000)}`);
      todo.forEach(({ out }, i) => {
        mkdirSync(path.dirname(out), { recursive: true });
        rmSync(out, { recursive: true, force: true });
        renameSync(spec[i].out, out);
      });
    } finally {
      rmSync(tmpRoot, { recursive: true, force: true });
    }
  }
  return outs;
}

/** A copy of an (unsharded, F32) HF folder in `dir`, its tensors and config.json passed through `edit`. */
export function mutateHf(
  src: string,
  dir: string,
  edit: (tensors: Map<string, F32Tensor>, config: Record<string, unknown>) => void,
): string {
  const out = mkdtempSync(path.join(dir, "hf-"));
  cpSync(src, out, { recursive: true });
  const st = path.join(out, "model.safetensors");
  const { tensors, metadata } = decodeSafetensors(readFileSync(st), st);
  const config = JSON.parse(readFileSync(path.join(out, "config.json"), "utf8"));
  edit(tensors, config);
  writeFileSync(st, encodeSafetensors(tensors, metadata));
  writeFileSync(path.join(out, "config.json"), JSON.stringify(config, null, 2));
  return out;
}

/** `python -m rosetta_trace.hf_checkpoint ARGS`: exit code, stdout, stderr. */
export function runHfCheckpoint(args: string[]): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(PY, ["-m", "rosetta_trace.hf_checkpoint", ...args], { encoding: "utf8", timeout: 300_000, env: PY_ENV });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/** Run Python code with the repository's package on the path; returns stdout (throws with stderr on failure). */
export function hfPython(code: string, args: string[] = []): string {
  const r = spawnSync(PY, ["-c", code, ...args], { encoding: "utf8", timeout: 300_000, env: PY_ENV });
  if (r.status !== 0) throw new Error(`python exited ${r.status}: ${r.stderr.slice(-2000)}`);
  return r.stdout;
}
