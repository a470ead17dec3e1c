/**
 * ModelBytes (src/formats/bytes.ts): one mapping per file for the whole process, however many holders
 * (the engine, the weight diff, the experiments) read it, closed when the last one closes; a comparison
 * pins it from start to end (ModelBytes.pinned), so a file's pages are mapped, and counted in RSS, once.
 */
import { describe, expect, it } from "vitest";

import { ModelBytes } from "../../src/formats/bytes.js";
import { loadModel } from "../../src/formats/index.js";
import { getFixture } from "../fixtures/lib/index.js";

describe("ModelBytes: one shared mapping per file", () => {
  it("holders of one file share its mapping; it closes with the last holder", async () => {
    const file = await getFixture("llama", "F32");
    const m = await loadModel(file, { logLayout: false });
    const t = m.tensors[0];
    const a = new ModelBytes(file), b = new ModelBytes(file);
    expect(a.source(t)).toBe(b.source(t));
    const want = Buffer.from(b.bytes(t));
    a.close();
    expect(Buffer.compare(Buffer.from(b.bytes(t)), want)).toBe(0); // still mapped for b
    expect(() => a.bytes(t)).toThrow(/closed/);
    const pin = ModelBytes.pinned(m);
    expect(pin.source(t)).toBe(b.source(t));
    b.close();
    pin.close();
    // every holder closed: a new one maps the file afresh
    const c = new ModelBytes(file);
    expect(Buffer.compare(Buffer.from(c.bytes(t)), want)).toBe(0);
    c.close();
  });
});
