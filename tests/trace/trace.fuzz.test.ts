/**
 * Seeded fuzz of the trace reader and of `rosetta A B` on saved traces. Two real traces are made at test
 * time (rosetta's engine on the llama F32 fixture, and llama.cpp through the bridge when it is available),
 * with full tensors for a few points, kq_softmax and two decode steps. Each case mutates one of them at the
 * JSON level (structural edits of the parsed object, raw text edits) or at the safetensors level (header
 * length, header JSON, truncation, byte and float edits), then:
 *  - readTrace/readTraceTensors succeed or throw a RosettaError of one line;
 *  - a trace that reads is compared with the original through runComparison (the CLI's library path) and
 *    with itself, and its reports rendered: a result or a RosettaError, nothing else;
 *  - a MATCH is checked independently: every point reported "match" must really be within its gate when
 *    recomputed here from the mutated side's own tensor (finite values, NMSE vs the original), so NaN or
 *    absurd values can never read as matched.
 * Seed and case count: ROSETTA_FUZZ_SEED, ROSETTA_FUZZ_CASES (printed on failure).
 */
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";

import { beforeAll, describe, expect, it } from "vitest";

import { runComparison } from "../../src/pipeline/run-comparison.js";
import { renderJson } from "../../src/compare/report/json.js";
import { renderJunit } from "../../src/compare/report/junit.js";
import { renderText } from "../../src/compare/report/text.js";
import type { ComparisonResult } from "../../src/compare/result.js";
import { runRosettaTrace } from "../../src/model/trace-run.js";
import { readTrace, readTraceTensors, writeTrace } from "../../src/trace/io.js";
import { RosettaError } from "../../src/util/errors.js";
import { getFixture } from "../fixtures/lib/index.js";
import { randInt, rng } from "../helpers/rng.js";
import { tryBridge } from "../helpers/bridge.js";
import { mutateJson, mutateSafetensors, mutateText } from "./mutate.js";

const CASES = Number(process.env.ROSETTA_FUZZ_CASES ?? 600);
const SEED = Number(process.env.ROSETTA_FUZZ_SEED ?? 20261122);
const TOKENS = [1, 5, 9, 3];
const FULL = ["*"];

interface Base {
  name: string;
  json: string;
  st: Buffer;
}

let dir = "";
const bases: Base[] = [];

beforeAll(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), "rosetta-tracefuzz-"));
  const model = await getFixture("llama", "F32");
  const r = await runRosettaTrace({ model, tokens: TOKENS, gen: 2, full: FULL, top: 4, kq: true, hash: false });
  const add = (name: string, res: typeof r) => {
    mkdirSync(path.join(dir, name));
    const file = writeTrace(path.join(dir, name, "t"), res.trace, res.tensors);
    bases.push({ name, json: readFileSync(file, "utf8"), st: readFileSync(path.join(dir, name, "t.safetensors")) });
  };
  add("rosetta", r);
  if (tryBridge()) {
    const { runLlamaCppTrace } = await import("../../src/reference/llamacpp.js");
    add("llama.cpp", await runLlamaCppTrace({ model, tokens: TOKENS, gen: 2, full: FULL, top: 4 }));
  }
}, 120_000);

/** NMSE of a vs the reference b, Infinity when a has a non-finite value where b has none. */
function nmse(a: Float32Array, b: Float32Array): number {
  let e = 0, s = 0;
  for (let i = 0; i < b.length; i++) {
    if (!Number.isFinite(a[i]) || !Number.isFinite(b[i])) return Infinity;
    e += (a[i] - b[i]) ** 2;
    s += b[i] * b[i];
  }
  return e === 0 ? 0 : s > 0 ? e / s : Infinity;
}

/** The independent oracle: a point reported "match" is within its gate on the values the mutated side holds. */
function checkMatches(res: ComparisonResult, mutFile: string, origFile: string): void {
  if (res.verdict !== "MATCH") return;
  const ta = readTrace(mutFile), tb = readTrace(origFile);
  const xa = readTraceTensors(mutFile, ta), xb = readTraceTensors(origFile, tb);
  for (const p of res.points) {
    if (p.status !== "match") continue;
    const pa = ta.points.find((q) => q.step === p.step && q.key === p.key)!;
    const pb = tb.points.find((q) => q.step === p.step && q.key === p.key)!;
    expect(pa.all.nan + pa.all.inf, `${p.key}@${p.step}: match with non-finite summary`).toBe(0);
    const a = pa.tensor ? xa.get(pa.tensor)?.data : undefined;
    const b = pb.tensor ? xb.get(pb.tensor)?.data : undefined;
    expect(a && b, `${p.key}@${p.step}: "match" without both full tensors`).toBeTruthy();
    expect(a!.length).toBe(b!.length);
    expect(nmse(a!, b!), `${p.key}@${p.step}: reported match`).toBeLessThanOrEqual(p.gate.threshold);
  }
}

function expectClean(e: unknown, what: string): void {
  if (!(e instanceof RosettaError)) throw new Error(`${what}: not a RosettaError: ${(e as Error)?.stack ?? String(e)}`);
  expect(e.message, what).not.toContain("\n");
  expect(e.message.length, what).toBeGreaterThan(0);
}

async function compareAndRender(a: string, b: string): Promise<ComparisonResult> {
  const res = await runComparison({ a: { path: a }, b: { path: b } });
  renderText(res, { verbose: true });
  renderText(res);
  renderJson(res);
  renderJunit(res);
  return res;
}

describe("trace reader fuzz", () => {
  it(`survives ${CASES} seeded mutations of real traces (seed ${SEED})`, async () => {
    const r = rng(SEED);
    const out = { rejected: 0, read: 0, match: 0, other: 0, cmpRejected: 0 };
    const t0 = Date.now();
    for (let i = 0; i < CASES; i++) {
      const base = bases[i % bases.length];
      const cdir = path.join(dir, `case-${i % 4}`);
      mkdirSync(cdir, { recursive: true });
      const mutFile = path.join(cdir, "t.json");
      const origFile = path.join(dir, base.name, "t.json");
      const kind = randInt(r, 10);
      let json = base.json;
      let st = base.st;
      let desc: string;
      if (kind < 6) ({ text: json, desc } = mutateJson(base.json, r));
      else if (kind < 7) ({ text: json, desc } = mutateText(base.json, r));
      else ({ buf: st, desc } = mutateSafetensors(base.st, r));
      writeFileSync(mutFile, json);
      writeFileSync(path.join(cdir, "t.safetensors"), st);
      const tag = `case ${i} (seed ${SEED}, base ${base.name}, ${desc})`;
      try {
        const t = readTrace(mutFile);
        readTraceTensors(mutFile, t);
      } catch (e) {
        expectClean(e, tag);
        out.rejected++;
        continue;
      }
      out.read++;
      try {
        const res = await compareAndRender(mutFile, origFile);
        checkMatches(res, mutFile, origFile);
        if (res.verdict === "MATCH") out.match++;
        else out.other++;
        if (i % 3 === 0) await compareAndRender(mutFile, mutFile);
      } catch (e) {
        if (e instanceof Error && e.name === "AssertionError") throw new Error(`${tag}: ${e.message}`);
        expectClean(e, `${tag}: compare`);
        out.cmpRejected++;
      }
    }
    process.stderr.write(`[fuzz] bases ${bases.map((b) => b.name).join(", ")}: ${CASES} trace cases in ${Date.now() - t0} ms: ${JSON.stringify(out)}\n`);
    expect(out.rejected).toBeGreaterThan(CASES / 4);
    expect(out.read).toBeGreaterThan(CASES / 20);
  }, 240_000);
});
