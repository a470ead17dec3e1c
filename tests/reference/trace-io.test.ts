/**
 * Trace files: JSON + safetensors round trip, validation errors, and the safetensors file read by a
 * reader that knows nothing of rosetta (python's json + struct, numpy when present).
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";

import { afterAll, describe, expect, it } from "vitest";

import { runLlamaCppTrace } from "../../src/reference/llamacpp.js";
import { parseTrace, readTrace, readTraceTensors, writeTrace } from "../../src/trace/io.js";
import { decodeSafetensors, encodeSafetensors } from "../../src/trace/safetensors.js";
import { InputError, UnsupportedError } from "../../src/util/errors.js";
import { getFixture } from "../fixtures/lib/index.js";
import { sameBits, tryBridge } from "../helpers/bridge.js";

const bridge = tryBridge("default");
const tmp = mkdtempSync(path.join(os.tmpdir(), "rosetta-io-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

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
