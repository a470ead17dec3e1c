/**
 * ggufHeader (src/formats/gguf-writer.ts): the header writeGguf writes, with each tensor's offset, so
 * tensor data of any size can be streamed after it (bench/full-models.ts writes multi-GB models so).
 * The streamed file must equal writeGguf's bytes, and load.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";

import { afterAll, expect, it } from "vitest";

import { ggufHeader, GgufType, writeGguf } from "../../src/formats/gguf-writer.js";
import { inspectModel } from "../../src/formats/index.js";

const tmp = mkdtempSync(path.join(os.tmpdir(), "rosetta-gguf-header-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

it("header + data at its offsets + padding = writeGguf's bytes", async () => {
  const meta = { "general.architecture": { type: GgufType.STRING, value: "llama" }, "general.alignment": { type: GgufType.UINT32, value: 64 } };
  const tensors = [
    { name: "a", type: 0, dims: [3], data: new Uint8Array(12).fill(1) },
    { name: "b", type: 8, dims: [32, 2], data: new Uint8Array(68).fill(2) },
    { name: "c", type: 0, dims: [1], data: new Uint8Array(4).fill(3) },
  ];
  const whole = writeGguf(meta, tensors);
  const h = ggufHeader(meta, tensors.map(({ data, ...t }) => ({ ...t, byteLength: data.length })));
  expect(h.alignment).toBe(64);
  expect(h.offsets).toEqual([0, 64, 192]);
  expect(h.header.length % 64).toBe(0);
  expect(h.header.length + h.total).toBe(whole.length);
  const streamed = Buffer.alloc(h.header.length + h.total);
  h.header.copy(streamed, 0);
  tensors.forEach((t, i) => streamed.set(t.data, h.header.length + h.offsets[i]));
  expect(streamed.equals(whole)).toBe(true);
  const file = path.join(tmp, "h.gguf");
  writeFileSync(file, streamed);
  const info = await inspectModel(file);
  expect(JSON.stringify(info, (_k, v) => (typeof v === "bigint" ? Number(v) : v))).toContain("\"b\"");
});
