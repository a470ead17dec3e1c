/**
 * The APR v2 spec's §2.7 worked example (aprender's golden fixture) reproduced byte for byte by the
 * writer, and read back by the parser.
 */
import { describe, expect, it } from "vitest";

import { crc32, crc32Table } from "../../../src/formats/apr-crc.js";
import { parseAprPrefix } from "../../../src/formats/apr-reader.js";
import { formatF32 } from "../../../src/formats/apr-metadata.js";
import { goldenFile } from "./golden.js";

describe("APR §2.7 worked example", () => {
  const b = goldenFile();
  it("is 516 bytes with the pinned CRCs and layout", () => {
    expect(b.length).toBe(516);
    expect(b.readUInt32LE(40)).toBe(0x3bc08c02);
    expect(b.readUInt32LE(512)).toBe(0x550f3f35);
    expect(b.subarray(0, 0x28).toString("hex")).toBe(
      "41505200" + "0200" + "0004" + "02000000" + "4000000000000000" + "bd000000" + "0001000000000000" + "8001000000000000",
    );
    expect(b.subarray(0x2c, 0x40).every((x) => x === 0)).toBe(true);
    const meta =
      '{"model_type":"linear_regression","name":"golden-v2","license":null,"data_source":null,"data_license":null,' +
      '"version":"0.0.0-golden","created_at":"1700000000","total_size":0,"param_count":8}';
    expect(meta.length).toBe(189);
    expect(b.subarray(64, 64 + 189).toString("utf8")).toBe(meta);
    expect(b.subarray(0x100, 0x106).toString("hex")).toBe("0400" + Buffer.from("bias").toString("hex"));
    expect(b.subarray(0x120, 0x129).toString("hex")).toBe("0700" + Buffer.from("weights").toString("hex"));
    expect(b.subarray(0x143, 0x180).every((x) => x === 0)).toBe(true);
    expect(b.subarray(0x180, 0x184).toString("hex")).toBe("0000003e");
    expect(Array.from(new Float32Array(b.buffer.slice(b.byteOffset + 0x1c0, b.byteOffset + 0x1e0)))).toEqual([1, 2, 0.5, -0.5, 4, -2, 0.25, 8]);
  });
  it("reads back", () => {
    const p = parseAprPrefix(b, b.length, "golden.apr");
    expect(p.entries.map((e) => [e.name, e.dims, e.offset, e.size])).toEqual([
      ["bias", [1], 0, 4],
      ["weights", [8], 64, 32],
    ]);
    expect(p.metadata.param_count).toBe(8);
    expect(p.dataOffset).toBe(384);
  });
  it("native and table CRC agree", () => {
    expect(crc32(b)).toBe(crc32Table(b));
    expect(crc32Table(Buffer.from("123456789"))).toBe(0xcbf43926);
  });
  it("formats f32 fields like serde/ryu", () => {
    expect(formatF32(1e-6)).toBe("1e-6");
    expect(formatF32(1e-5)).toBe("0.00001");
    expect(formatF32(1000000)).toBe("1000000.0");
    expect(formatF32(10000)).toBe("10000.0");
    expect(formatF32(0.5)).toBe("0.5");
    expect(formatF32(1.5e-7)).toBe("1.5e-7");
  });
});
