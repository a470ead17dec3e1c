/**
 * Trace files (src/trace/io.ts, src/trace/safetensors.ts): JSON + safetensors round trip (a llama.cpp trace
 * written and read back, and its safetensors file read by a reader that knows nothing of rosetta: python's
 * json + struct), validation of malformed JSON and safetensors, and the regressions for holes the trace
 * fuzz (trace.fuzz.test.ts) found in reading saved traces, each on a real trace (rosetta's engine, llama
 * F32 fixture, every point kept in full), and the CLI's answer to a few representative broken traces:
 * exit code 2 and one stderr line.
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";

import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { runComparison } from "../../src/pipeline/run-comparison.js";
import { runRosettaTrace } from "../../src/model/trace-run.js";
import { runLlamaCppTrace } from "../../src/reference/llamacpp.js";
import { parseTrace, readTrace, readTraceTensors, writeTrace } from "../../src/trace/io.js";
import { decodeSafetensors, encodeSafetensors } from "../../src/trace/safetensors.js";
import { InputError, UnsupportedError } from "../../src/util/errors.js";
import { getFixture } from "../fixtures/lib/index.js";
import { sameBits, tryBridge } from "../helpers/bridge.js";
import { runCli } from "../helpers/cli.js";

const bridge = tryBridge("default");
const tmp = mkdtempSync(path.join(os.tmpdir(), "rosetta-io-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

let dir = "";
let orig = "";
let text = "";
let st: Buffer;

beforeAll(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), "rosetta-tracecheck-"));
  const model = await getFixture("llama", "F32");
  const r = await runRosettaTrace({ model, tokens: [1, 5, 9, 3], gen: 2, full: ["*"], top: 4, kq: true, hash: false });
  orig = writeTrace(path.join(dir, "orig"), r.trace, r.tensors);
  text = readFileSync(orig, "utf8");
  st = readFileSync(path.join(dir, "orig.safetensors"));
}, 120_000);

let n = 0;
/** Writes a variant of the original (JSON edited by `edit`, safetensors replaced by `tensors`) and returns its path. */
function variant(edit: (t: Record<string, any>) => void = () => {}, tensors: Buffer = st): string {
  const sub = path.join(dir, `v${n++}`);
  mkdirSync(sub);
  const t = JSON.parse(text);
  edit(t);
  writeFileSync(path.join(sub, "orig.json"), JSON.stringify(t));
  writeFileSync(path.join(sub, "orig.safetensors"), tensors);
  return path.join(sub, "orig.json");
}

function read(file: string): void {
  readTraceTensors(file, readTrace(file));
}

/** The safetensors file with one float of tensor `name` set to `v`. */
function withFloat(name: string, index: number, v: number): Buffer {
  const { tensors, metadata } = decodeSafetensors(st);
  tensors.get(name)!.data[index] = v;
  return encodeSafetensors(tensors, metadata);
}

describe("trace validation regressions", () => {
  it("reads the real trace and compares it with itself as MATCH", async () => {
    read(orig);
    expect((await runComparison({ a: { path: orig }, b: { path: orig } })).verdict).toBe("MATCH");
  });

  it("a NaN/Inf in a full tensor that its summary does not count is refused (it read as MATCH)", () => {
    for (const v of [NaN, Infinity, -Infinity, 1e30]) {
      const f = variant(undefined, withFloat("s0.blk.0.l_out", 3, v));
      expect(() => read(f)).toThrow(/contradicts the summary of point blk\.0\.l_out of step 0/);
    }
  });

  it("impossible summaries are refused: negative or Infinity counts, 1e999, min > max, |mean| > absmax", () => {
    const bad: [(p: Record<string, any>) => void, RegExp][] = [
      [(p) => (p.all.nan = -1), /non-negative integers/],
      [(p) => (p.all.inf = -1e999), /not finite|non-negative/],
      [(p) => (p.last.mean = 1e308), /impossible/],
      [(p) => ([p.all.min, p.all.max] = [p.all.max, p.all.min]), /min .* > max/],
      [(p) => (p.all.zeros = p.all.count + 1), /exceed count/],
      [(p) => (p.all.min = null), /min\/max are null/],
    ];
    for (const [edit, re] of bad) {
      const f = variant(undefined);
      const t = JSON.parse(readFileSync(f, "utf8"));
      edit(t.points[7]);
      writeFileSync(f, JSON.stringify(t, (_k, v) => (v === -Infinity ? "@NINF" : v)).replace('"@NINF"', "-1e999"));
      expect(() => read(f)).toThrow(re);
    }
    // JSON's 1e999 parses as Infinity
    expect(() => parseTrace(text.replace(/"l2":[0-9.e-]+/, '"l2":1e999'))).toThrow(/l2 is not finite/);
  });

  it("points: duplicates, inconsistent key/layer, shape vs counts, step past the decode steps", () => {
    const cases: [(t: Record<string, any>) => void, RegExp][] = [
      [(t) => t.points.push({ ...t.points[5] }), /repeats blk\.0\.q/],
      [(t) => (t.points[5].layer = 3), /does not name point/],
      [(t) => (t.points[5].shape = [2, 32]), /disagree/],
      [(t) => (t.points[5].tokens = 0), /tokens positive/],
      [(t) => (t.points[5].step = 9), /past the 2 decode step/],
      [(t) => (t.points[5].firstPos = 100), /beyond the/],
    ];
    for (const [edit, re] of cases) expect(() => read(variant(edit))).toThrow(re);
  });

  it("header fields the comparator and reports use must have their types; nesting is bounded", () => {
    expect(() => read(variant((t) => (t.model.fileType = 5)))).toThrow(/model.fileType must be a string/);
    expect(() => read(variant((t) => (t.engine.settings.deep = JSON.parse("[".repeat(3000) + "]".repeat(3000)))))).toThrow(/nested deeper/);
    expect(() => parseTrace('{"format": "rosetta-trace",\n "version": x}')).toThrow(/^[^\n]+$/);
  });

  it("a saved trace that says its engine failed is compared, not a TypeError", async () => {
    const f = variant((t) => (t.engine.settings.failed = "x"));
    const r = await runComparison({ a: { path: f }, b: { path: orig } });
    expect(r.verdict).toBe("MATCH");
  });

  it("safetensors: overlapping or aliased tensors, gaps, a tensor of another shape, a device file", () => {
    const n = Number(st.readBigUInt64LE(0));
    const h = JSON.parse(st.subarray(8, 8 + n).toString());
    const data = st.subarray(8 + n);
    const enc = (hh: unknown) => {
      const head = Buffer.from(JSON.stringify(hh));
      const len = Buffer.alloc(8);
      len.writeBigUInt64LE(BigInt(head.length));
      return Buffer.concat([len, head, data]);
    };
    const alias = structuredClone(h);
    alias["s0.blk.0.q"].data_offsets = [...alias["s0.blk.0.k"].data_offsets];
    alias["s0.blk.0.q"].shape = alias["s0.blk.0.k"].shape;
    expect(() => decodeSafetensors(enc(alias))).toThrow(/overlap|gap|cover/);
    const moved = structuredClone(h);
    delete moved["s0.embd"];
    expect(() => decodeSafetensors(enc(moved))).toThrow(/gap|cover/);
    const reshaped = structuredClone(h);
    reshaped["s0.blk.0.q"].shape = [...reshaped["s0.blk.0.q"].shape].reverse();
    expect(() => read(variant(undefined, enc(reshaped)))).toThrow(/has shape .* says/);
    expect(() => read(variant((t) => (t.tensors = "/dev/zero")))).toThrow(/not a regular file/);
    expect(() => readTrace(dir)).toThrow(InputError);
  });

  it("CLI: representative broken traces exit 2 with one stderr line", () => {
    const broken = [
      variant(undefined, withFloat("s0.blk.1.ffn_out", 0, NaN)),
      variant((t) => (t.points[3].all.count = 7)),
      variant((t) => t.points.push(t.points[0])),
      variant(undefined, st.subarray(0, st.length - 5)),
    ];
    const truncated = path.join(dir, "trunc.json");
    writeFileSync(truncated, text.slice(0, 5000));
    broken.push(truncated);
    for (const f of broken) {
      const r = runCli([f, orig]);
      expect(r.code, `${f}: ${r.stderr}`).toBe(2);
      expect(r.stderr.trim().split("\n"), r.stderr).toHaveLength(1);
    }
  }, 60_000);
});

describe("safetensors", () => {
  it("round trips and rejects malformed files", () => {
    const t = new Map([["a", { shape: [2, 3], data: Float32Array.from([1, 2, 3, 4, 5, NaN]) }], ["b", { shape: [1], data: Float32Array.from([-0]) }]]);
    const buf = encodeSafetensors(t, { k: "v" });
    expect(Number(buf.readBigUInt64LE(0)) % 8).toBe(0);
    const back = decodeSafetensors(buf);
    expect(back.metadata).toEqual({ k: "v" });
    expect(sameBits(back.tensors.get("a")!.data, t.get("a")!.data)).toBe(true);
    expect(back.tensors.get("b")!.shape).toEqual([1]);
    expect(() => decodeSafetensors(buf.subarray(0, 5))).toThrow(InputError);
    expect(() => decodeSafetensors(buf.subarray(0, buf.length - 4))).toThrow(/data_offsets/);
    const huge = Buffer.from(buf);
    huge.writeBigUInt64LE(1n << 40n, 0);
    expect(() => decodeSafetensors(huge)).toThrow(/exceeds the file/);
  });
});

describe("trace JSON validation", () => {
  const ok = { format: "rosetta-trace", version: 1, engine: { name: "x", settings: {} }, model: {}, input: { tokens: [1], generated: [] }, points: [] };
  it("accepts a minimal trace and refuses broken ones with one clear line", () => {
    expect(parseTrace(JSON.stringify(ok)).engine.name).toBe("x");
    expect(() => parseTrace("{")).toThrow(/not JSON/);
    expect(() => parseTrace(JSON.stringify({ ...ok, format: "other" }))).toThrow(/format is "other"/);
    expect(() => parseTrace(JSON.stringify({ ...ok, version: 99 }))).toThrow(UnsupportedError);
    expect(() => parseTrace(JSON.stringify({ ...ok, input: { tokens: ["a"], generated: [] } }))).toThrow(/input.tokens/);
    expect(() => parseTrace(JSON.stringify({ ...ok, points: [{ key: "embd", point: "embd", layer: null, step: 0, firstPos: 0, tokens: 1, shape: [1, 2] }] }))).toThrow(/points\[0\]\.all/);
    expect(() => readTrace(path.join(tmp, "none.json"))).toThrow(/no such trace file/);
  });
});

describe.skipIf(!bridge)("trace files from llama.cpp", () => {
  it("write + read back: summaries, top-k, full tensors; readable without rosetta", async () => {
    const model = await getFixture("qwen3", "F32");
    const { trace, tensors, raw } = await runLlamaCppTrace({ model, tokens: [3, 40, 200, 7], gen: 1, full: ["blk.1.*", "logits"], top: 3 });
    const file = writeTrace(path.join(tmp, "q3"), trace, tensors);
    expect(file).toBe(path.join(tmp, "q3.json"));
    const back = readTrace(file);
    expect(back.points.length).toBe(trace.points.length);
    expect(back.points[5].all).toEqual(trace.points[5].all);
    expect(back.logits!.top[4].ids).toEqual(trace.logits!.top[4].ids);
    expect(back.tensors).toBe("q3.safetensors");
    const st = readTraceTensors(file, back);
    expect(st.size).toBe(2 * 16 + 2 + 1); // blk.1.* and the logits point, 2 steps, + logits.all
    expect(sameBits(st.get("logits.all")!.data, raw.logits)).toBe(true);
    expect(back.points.filter((p) => p.tensor).every((p) => p.key.startsWith("blk.1.") || p.key === "logits")).toBe(true);
    // An independent reader: python's struct + json (+ numpy if installed).
    const py = `import json,struct,sys
b=open(sys.argv[1],'rb').read(); n=struct.unpack('<Q',b[:8])[0]; h=json.loads(b[8:8+n]); e=h['s0.blk.1.kq_softmax']
s,t=e['data_offsets']; v=struct.unpack('<%df'%((t-s)//4), b[8+n+s:8+n+t]); print(e['shape'], round(sum(v),4))`;
    const r = spawnSync("python3", ["-c", py, path.join(tmp, "q3.safetensors")], { encoding: "utf8" });
    if (r.error) return void process.stderr.write("[tests] python3 absent: independent safetensors read skipped\n");
    expect(r.stdout.trim()).toBe("[4, 4, 4] 16.0"); // 4 heads x 4 rows, each summing to 1
    // Tampering is caught.
    writeFileSync(path.join(tmp, "bad.json"), readFileSync(file, "utf8").replace('"q3.safetensors"', '"gone.safetensors"'));
    expect(() => readTraceTensors(path.join(tmp, "bad.json"), readTrace(path.join(tmp, "bad.json")))).toThrow(/missing/);
  });
});
