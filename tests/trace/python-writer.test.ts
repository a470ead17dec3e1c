/**
 * The Python trace writer (python/rosetta_trace, issue 20 item 3): a plain numpy forward pass of the F32
 * llama fixture (tests/trace/numpy_forward.py, weights dumped here as .npy) writes a rosetta trace with
 * the package; rosetta compares it with its own engine on the GGUF: every point matches within float32
 * rounding (worst energy NMSE measured, asserted <= 1e-8; --threshold 1e-6). `rosetta validate-trace`
 * accepts the written file and refuses broken variants (count mismatch, missing tensor, bad JSON) with one
 * line, exit 2. Needs `npm run python:setup` (.venv-python/bin/python); skipped with a message without it.
 */
import { spawnSync } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";

import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { summarize } from "../../src/bindings/kernels.js";
import { readGgufIr, toF32 } from "../../src/convert/ir.js";
import { runComparison } from "../../src/pipeline/run-comparison.js";
import type { ComparisonResult } from "../../src/compare/result.js";
import { readTrace, readTraceTensors } from "../../src/trace/io.js";
import { lastTokenSlice } from "../../src/trace/types.js";
import { getFixture } from "../fixtures/lib/index.js";
import { runCli } from "../helpers/cli.js";
import { REPO_ROOT } from "../helpers/shared.js";

const PY = path.join(REPO_ROOT, ".venv-python/bin/python");
const HAVE_PY = existsSync(PY);
if (!HAVE_PY) process.stderr.write(`[tests] ${PY} is absent: the Python trace writer tests are skipped (run \`npm run python:setup\`)\n`);

const TOKENS = [1, 17, 42, 9, 23, 5, 77];

/** A float32 array as a .npy file (format 1.0, C order). */
function npy(data: Float32Array, shape: number[]): Buffer {
  const dict = `{'descr': '<f4', 'fortran_order': False, 'shape': (${shape.join(", ")}${shape.length === 1 ? "," : ""}), }`;
  const len = Math.ceil((10 + dict.length + 1) / 64) * 64 - 10;
  const pre = Buffer.alloc(10);
  pre.write("\x93NUMPY", 0, "latin1");
  pre[6] = 1;
  pre[7] = 0;
  pre.writeUInt16LE(len, 8);
  return Buffer.concat([pre, Buffer.from(dict.padEnd(len - 1, " ") + "\n", "latin1"), Buffer.from(data.buffer, data.byteOffset, data.byteLength)]);
}

function python(args: string[]) {
  const r = spawnSync(PY, args, { encoding: "utf8", timeout: 120_000, env: { ...process.env, PYTHONDONTWRITEBYTECODE: "1" } });
  if (r.status !== 0) throw new Error(`python ${args.join(" ")} exited ${r.status}: ${r.stderr}`);
  return r.stdout;
}

describe.skipIf(!HAVE_PY)("python/rosetta_trace", () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), "rosetta-pywriter-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  let model = "";
  let traceJson = "";

  beforeAll(async () => {
    model = await getFixture("llama", "F32");
    const ir = await readGgufIr(model);
    const wdir = path.join(dir, "weights");
    mkdirSync(wdir);
    for (const t of ir.tensors) writeFileSync(path.join(wdir, `${t.name}.npy`), npy(toF32(t), t.dims));
    writeFileSync(path.join(wdir, "config.json"), JSON.stringify({ ...ir.config, path: model }));
    traceJson = python([path.join(REPO_ROOT, "tests/trace/numpy_forward.py"), wdir, path.join(dir, "numpy"), TOKENS.join(",")]).trim();
  }, 180_000);

  describe("a numpy forward pass traced with the package", () => {
    let r: ComparisonResult;
    beforeAll(async () => {
      r = await runComparison({ a: { path: traceJson }, b: { path: model }, tokens: TOKENS, threshold: 1e-6 });
    }, 180_000);

    it("matches rosetta's engine at every point within float32 rounding", () => {
      const compared = r.points.filter((p) => p.status !== "only-b");
      // embd, 17 points x 2 layers (q, k, v, ..., kq_softmax), result_norm, logits
      expect(compared.length).toBe(2 + 16 * 2 + 1);
      const notMatch = compared.filter((p) => p.status !== "match").map((p) => `${p.key}: ${p.status} ${p.note ?? ""}`);
      expect(notMatch).toEqual([]);
      expect(compared.every((p) => p.all?.basis === "tensor" && p.last?.basis === "tensor")).toBe(true);
      const nmse = compared.map((p) => ({ key: p.key, nmse: Math.max(p.all!.nmse!, p.last!.nmse!) }));
      const worst = nmse.reduce((a, b) => (b.nmse > a.nmse ? b : a));
      process.stderr.write(`[python-writer] worst energy NMSE numpy vs rosetta: ${worst.nmse.toExponential(3)} at ${worst.key}\n`);
      expect(worst.nmse).toBeLessThanOrEqual(1e-8);
      expect(r.firstDivergence).toBeNull();
    });

    it("records the summaries rosetta computes for the same values (docs/metrics.md)", () => {
      const t = JSON.parse(readFileSync(traceJson, "utf8"));
      expect(t.format).toBe("rosetta-trace");
      expect(t.points[0]).toMatchObject({ key: "embd", point: "embd", layer: null, step: 0, firstPos: 0, tokens: TOKENS.length, tensor: "s0.embd" });
      const kq = t.points.find((p: { key: string }) => p.key === "blk.0.kq_softmax");
      expect(kq.shape).toEqual([4, TOKENS.length, TOKENS.length]);
      expect(kq.last.count).toBe(4 * TOKENS.length);
      expect(t.logits.top).toHaveLength(TOKENS.length);
      // every summary as rosetta's native stats compute it over the stored float32 values, to 1e-12 relative
      const trace = readTrace(traceJson);
      const tensors = readTraceTensors(traceJson, trace);
      for (const p of trace.points) {
        const x = tensors.get(p.tensor!)!.data;
        for (const [mine, theirs] of [[summarize(x), p.all!], [summarize(lastTokenSlice(x, p.point, p.shape, p.tokens)), p.last!]] as const) {
          for (const k of ["count", "nan", "inf", "zeros", "mean", "std", "min", "max", "absmax", "l2"] as const)
            expect(Math.abs(mine[k] - theirs[k]), `${p.key} ${k}`).toBeLessThanOrEqual(1e-12 * Math.max(mine.absmax, mine.l2, 1e-300));
        }
      }
    });
  });

  it("torch_hooks maps HF llama module names to points without importing torch (the hooks themselves are not run in CI)", () => {
    const script = [
      "import json, sys, numpy as np",
      "from rosetta_trace import torch_hooks as th",
      "names = ['model.embed_tokens', 'model.layers.1.input_layernorm', 'model.layers.1.self_attn.k_proj', 'model.layers.1.self_attn.o_proj',",
      "         'model.layers.1.post_attention_layernorm', 'model.layers.1.mlp.up_proj', 'model.layers.1.mlp.down_proj', 'model.layers.1', 'model.norm', 'lm_head',",
      "         'model.layers.1.self_attn', 'model.layers.1.mlp.act_fn', 'model']",
      // llama.cpp's converter permutes Q/K rows per head (convert_hf_to_gguf.py permute): the activation permutation must agree
      "H, hd = 2, 8",
      "w = np.arange(H * hd)",
      "gguf_rows = w.reshape(H, 2, hd // 2).swapaxes(1, 2).reshape(-1)",
      "print(json.dumps({'map': {n: th.point_for(n) for n in names}, 'torch': 'torch' in sys.modules,",
      "                  'qk': bool((th._gguf_qk(w[None, :].astype(np.float32), hd)[0] == gguf_rows).all())}))",
    ].join("\n");
    const r = JSON.parse(python(["-c", script]));
    expect(r.torch).toBe(false);
    expect(r.qk).toBe(true);
    expect(r.map).toEqual({
      "model.embed_tokens": [["out", "embd"]],
      "model.layers.1.input_layernorm": [["out", "blk.1.attn_norm"]],
      "model.layers.1.self_attn.k_proj": [["out", "blk.1.k"]],
      "model.layers.1.self_attn.o_proj": [["in", "blk.1.attn"], ["out", "blk.1.attn_out"]],
      "model.layers.1.post_attention_layernorm": [["in", "blk.1.ffn_inp"], ["out", "blk.1.ffn_norm"]],
      "model.layers.1.mlp.up_proj": [["out", "blk.1.ffn_up"]],
      "model.layers.1.mlp.down_proj": [["in", "blk.1.ffn_act"], ["out", "blk.1.ffn_out"]],
      "model.layers.1": [["out", "blk.1.l_out"]],
      "model.norm": [["out", "result_norm"]],
      lm_head: [["out", "logits"]],
      "model.layers.1.self_attn": [],
      "model.layers.1.mlp.act_fn": [],
      model: [],
    });
  });

  describe("rosetta validate-trace", () => {
    const variant = (name: string, edit: (t: Record<string, any>) => void, keepTensors = true) => {
      const t = JSON.parse(readFileSync(traceJson, "utf8"));
      edit(t);
      const base = path.join(dir, name);
      if (keepTensors) copyFileSync(traceJson.replace(/\.json$/, ".safetensors"), base + ".safetensors");
      t.tensors = `${name}.safetensors`;
      writeFileSync(base + ".json", JSON.stringify(t));
      return base + ".json";
    };
    const refused = (file: string, re: RegExp) => {
      const r = runCli(["validate-trace", file]);
      expect(r.code).toBe(2);
      expect(r.stdout).toBe("");
      expect(r.stderr.trim().split("\n")).toHaveLength(1);
      expect(r.stderr).toMatch(re);
    };

    it("accepts the written trace", () => {
      const r = runCli(["validate-trace", traceJson]);
      expect(r.stderr).toBe("");
      expect(r.stdout).toBe(`ok: ${2 + 16 * 2 + 1} points, ${2 + 16 * 2 + 1} full tensors, steps 1\n`);
      expect(r.code).toBe(0);
    });

    it("accepts a trace of two steps written without full tensors (summaries only)", () => {
      const script = [
        "import numpy as np, sys",
        "from rosetta_trace import TraceWriter",
        "rng = np.random.default_rng(0)",
        "w = TraceWriter(engine='toy', tokens=[1, 2, 3], model={'arch': 'llama'})",
        "w.step(0); w.point('embd', rng.standard_normal((3, 8))); w.point('blk.0.kq_softmax', rng.random((2, 3, 3)))",
        "w.step(1, token=4); w.point('embd', np.array([[0.0, -0.0, np.nan, np.inf, 1, 2, 3, 4]]), full=True)",
        "print(w.save(sys.argv[1]))",
      ].join("\n");
      const file = python(["-c", script, path.join(dir, "toy")]).trim();
      const r = runCli(["validate-trace", file]);
      expect(r.stdout).toBe("ok: 3 points, 1 full tensors, steps 2\n");
      const t = JSON.parse(readFileSync(file, "utf8"));
      expect(t.input.generated).toEqual([4]);
      expect(t.points[2]).toMatchObject({ step: 1, firstPos: 3, tokens: 1 });
      expect(t.points[2].all).toMatchObject({ count: 8, nan: 1, inf: 1, zeros: 2, min: -0, max: 4, absmax: 4, mean: 10 / 6 });
    });

    it("refuses a count that disagrees with the shape", () => {
      refused(variant("count", (t) => (t.points[3].all.count += 1)), /not a valid rosetta trace: points\[3\]: shape .* disagree/);
    });

    it("refuses a point whose tensor is missing from the safetensors file", () => {
      refused(variant("renamed", (t) => (t.points.find((p: { key: string }) => p.key === "blk.0.k").tensor = "s0.blk.0.nothing")), /tensor s0\.blk\.0\.nothing \(point blk\.0\.k\) is missing/);
      // the same file without one tensor (rewritten with safetensors itself)
      const file = variant("dropped", () => {});
      const st = file.replace(/\.json$/, ".safetensors");
      python(["-c", "import sys\nfrom safetensors.numpy import load_file, save_file\nd = load_file(sys.argv[1])\ndel d['s0.blk.1.ffn_up']\nsave_file(d, sys.argv[1], metadata={'format': 'rosetta-trace', 'version': '1'})", st]);
      refused(file, /dropped\.safetensors: tensor s0\.blk\.1\.ffn_up \(point blk\.1\.ffn_up\) is missing/);
      refused(variant("nofile", () => {}, false), /its tensor file nofile\.safetensors is missing/);
    });

    it("refuses a summary its tensor contradicts", () => {
      refused(variant("stats", (t) => (t.points[1].all.mean += 0.5)), /contradicts the summary of point blk\.0\.attn_norm/);
    });

    it("refuses bad JSON in one line", () => {
      const bad = path.join(dir, "bad.json");
      writeFileSync(bad, readFileSync(traceJson, "utf8").slice(0, 500));
      refused(bad, /bad\.json: not a valid rosetta trace: not JSON/);
      refused(path.join(dir, "absent.json"), /no such trace file/);
    });

    it("the writer refuses what is no capture point, and mismatched token counts", () => {
      const r = spawnSync(PY, ["-c", "from rosetta_trace import TraceWriter\nimport numpy as np\nw = TraceWriter(engine='x', tokens=[1, 2])\nw.step(0)\ntry:\n  w.point('blk.0.attention', np.zeros((2, 4)))\nexcept ValueError as e: print(e)\ntry:\n  w.point('embd', np.zeros((3, 4)))\nexcept ValueError as e: print(e)"], { encoding: "utf8" });
      expect(r.stdout).toMatch(/'blk\.0\.attention' is not a rosetta capture point/);
      expect(r.stdout).toMatch(/step 0 covers the 2 prompt tokens, but the array has 3 token\(s\)/);
    });
  });
});
