/**
 * `rosetta convert` of a model file over 4 GB (issue 18 item 3): a synthetic llama fixture plus one
 * 4.4 GB F32 tensor of zeros, written as a sparse file (the atomic chunked writer leaves zero runs as
 * holes), so the test costs seconds and almost no disk. The convert runs in its own process: its peak RSS
 * must stay far below the file's size (tensors are streamed a chunk at a time, never read into one
 * Buffer), and the APR it writes must read back with its footer CRC verified and the big tensor in place.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, statSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";

import { afterAll, describe, expect, it } from "vitest";

import { readGgufIr, irBytes } from "../../src/convert/ir.js";
import { ggufChunks } from "../../src/formats/gguf-writer.js";
import { readAprFile } from "../../src/formats/apr.js";
import { writeFileAtomicChunks } from "../../src/util/atomic.js";
import { getFixture } from "../fixtures/lib/index.js";
import { REPO_ROOT } from "../helpers/shared.js";

const dir = mkdtempSync(path.join(os.tmpdir(), "rosetta-large-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const BIG = { rows: 270_000, cols: 4096 }; // 1.1 G elements, 4.42 GB of F32
const BIG_BYTES = BIG.rows * BIG.cols * 4;

describe("convert of a file over 4 GB", () => {
  it("streams it: peak RSS far below the file, the APR verifies and holds every tensor", async () => {
    const base = await readGgufIr(await getFixture("llama", "F32"));
    const zeros = Buffer.alloc(16 << 20);
    const big = {
      byteLength: BIG_BYTES,
      *chunks() {
        for (let left = BIG_BYTES; left > 0; left -= zeros.length) yield zeros.subarray(0, Math.min(left, zeros.length));
      },
    };
    const input = path.join(dir, "big.gguf");
    const tensors = [
      ...base.tensors.map((t) => ({ name: t.name, type: t.type, dims: [...t.dims].reverse(), data: irBytes(t) })),
      { name: "extra.big.weight", type: 0, dims: [BIG.cols, BIG.rows], data: big },
    ];
    writeFileAtomicChunks(input, ggufChunks(base.gguf, tensors));
    const inSize = statSync(input).size;
    expect(inSize).toBeGreaterThan(4.3e9);
    expect(statSync(input).blocks * 512).toBeLessThan(64 << 20); // sparse: the test needs almost no disk

    const out = path.join(dir, "big.apr");
    const main = pathToFileURL(path.join(REPO_ROOT, "dist/src/cli/main.js")).href;
    const script = `import { main } from ${JSON.stringify(main)}; const code = await main(process.argv.slice(1)); process.stderr.write("MAXRSS " + process.resourceUsage().maxRSS + "\\n"); process.exitCode = code;`;
    const r = spawnSync(process.execPath, ["--input-type=module", "-e", script, "convert", input, out, "--quiet"], { encoding: "utf8", timeout: 300_000 });
    expect(r.status, r.stderr).toBe(0);
    const maxRssKb = Number(/MAXRSS (\d+)/.exec(r.stderr)?.[1]);
    expect(maxRssKb).toBeGreaterThan(0);
    expect(maxRssKb * 1024).toBeLessThan(1e9); // a whole-file read would need over 4.4 GB

    const apr = await readAprFile(out);
    expect(apr.footer).toBe("verified");
    expect(apr.fileSize).toBeGreaterThan(4.3e9);
    const t = apr.tensors.find((x) => x.name === "extra.big.weight")!;
    expect(t.byteLength).toBe(BIG_BYTES);
    expect(t.dims).toEqual([BIG.rows, BIG.cols]);
    expect(apr.tensors.length).toBe(base.tensors.length + 1);
  }, 600_000);
});
