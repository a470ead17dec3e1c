/**
 * User mistakes on the command line end in one clear line and exit 2, never an "internal error" with a
 * stack: folders given as files, output paths in missing folders (checked before the run), bad --threads,
 * --gen past the model's context, a folder as trace --out. Also: an identical pair's SQNR prints as "inf".
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";

import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { runCli, type CliResult } from "../helpers/cli.js";
import { REPO_ROOT } from "../helpers/shared.js";

const dir = mkdtempSync(path.join(os.tmpdir(), "rosetta-cli-errors-"));
const folder = path.join(dir, "a-folder");
mkdirSync(folder);
const missing = path.join(dir, "no-such-folder", "out");
let model = "";

beforeAll(async () => {
  const { getFixture } = await import("../fixtures/lib/index.js");
  model = await getFixture("llama", "F32");
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function expectUserError(r: CliResult, message: RegExp): void {
  expect(r.code, r.stderr).toBe(2);
  expect(r.stderr).not.toMatch(/internal error/);
  expect(r.stderr.trim().split("\n")).toHaveLength(1);
  expect(r.stderr).toMatch(message);
}

describe("a folder where a model file is expected: exit 2, one line", () => {
  it("rosetta A B, inspect, diff-weights, tokenize, trace, convert", () => {
    expectUserError(runCli([folder, model, "--tokens", "1,2", "-q"]), /is a directory/);
    expectUserError(runCli(["inspect", folder, "-q"]), /is a directory/);
    expectUserError(runCli(["diff-weights", folder, model, "-q"]), /is a directory/);
    expectUserError(runCli(["tokenize", folder, "hi", "-q"]), /is a directory/);
    expectUserError(runCli(["trace", folder, "--engine", "rosetta", "-p", "hi", "--out", path.join(dir, "t"), "-q"]), /is a directory/);
    expectUserError(runCli(["convert", folder, path.join(dir, "x.apr"), "-q"]), /is a directory/);
  });
});

describe("output files that cannot be written: exit 2 before the run", () => {
  it("--json / --junit in a missing folder or naming a folder", () => {
    expectUserError(runCli([model, model, "--tokens", "1,2", "--json", `${missing}.json`, "-q"]), /--json .*does not exist/);
    expectUserError(runCli([model, model, "--tokens", "1,2", "--junit", folder, "-q"]), /--junit .*is a directory/);
    expectUserError(runCli(["demo", "--json", `${missing}.json`, "-q"]), /--json .*does not exist/);
    expectUserError(runCli(["diff-weights", model, model, "--json", folder, "-q"]), /--json .*is a directory/);
  });
  it("trace --out in a missing folder, or a folder", () => {
    expectUserError(runCli(["trace", model, "--engine", "rosetta", "-p", "hi", "--out", missing, "-q"]), /--out .*does not exist/);
    expectUserError(runCli(["trace", model, "--engine", "rosetta", "-p", "hi", "--out", folder, "-q"]), /--out .*is a directory/);
  });
  it("convert into a missing folder", () => {
    expectUserError(runCli(["convert", model, `${missing}.apr`, "-q"]), /does not exist/);
  });
});

describe("a mistyped command", () => {
  it("is named as such, not as a missing model file", () => {
    expectUserError(runCli(["inspekt", model]), /'inspekt' is not a command or a file \(commands: convert, inspect/);
  });
});

describe("flag values", () => {
  it("--threads outside 1..256", () => {
    expectUserError(runCli([model, model, "--tokens", "1,2", "--threads", "-2", "-q"]), /--threads must be an integer/);
    expectUserError(runCli([model, model, "--tokens", "1,2", "--threads", "0", "-q"]), /--threads must be an integer/);
  });
  it("--gen past the model's context length is refused up front (not a run that eats memory)", () => {
    const t0 = Date.now();
    expectUserError(runCli([model, model, "--tokens", "1,2", "--gen", "100000000", "-q"]), /exceed .*context length/);
    const out = path.join(dir, "long");
    expectUserError(runCli(["trace", model, "--engine", "rosetta", "--tokens", "1", "--gen", "100000000", "--out", out, "-q"]), /exceed .*context length/);
    expect(Date.now() - t0).toBeLessThan(30_000);
  });
});

describe("report wording", () => {
  it("an identical pair prints sqnr=inf, never 'Infinity'", () => {
    const r = runCli([model, model, "--tokens", "1,2,3", "-v", "-q"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/sqnr=inf /);
    expect(r.stdout).not.toMatch(/Infinity/);
  });
  it("a pass with points on one side only says they were not compared", () => {
    const base = path.join(dir, "nogen");
    // --tensors: a trace of summaries only would be "not verified", not a pass (tests/compare/gates.test.ts)
    expect(runCli(["trace", model, "--engine", "rosetta", "--tokens", "1,2,3", "--tensors", "--out", base, "-q"]).code).toBe(0);
    const r = runCli([model, `${base}.json`, "--gen", "2", "-q"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/PASSED: every compared point matches  \(\d+ point\(s\) captured on one side only were not compared\)/);
    const same = runCli([model, model, "--tokens", "1,2,3", "-q"]);
    expect(same.stdout).toMatch(/PASSED: every compared point matches\n/);
  });
});

describe("--json - (stdout), as the help says", () => {
  it("rosetta A B and diff-weights take `--json -` as well as `--json=-`", () => {
    const r = runCli([model, model, "--tokens", "1,2", "--json", "-", "-q"]);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).schema).toBe("rosetta-comparison");
    const w = runCli(["diff-weights", model, model, "--json", "-", "-q"]);
    expect(w.code, w.stderr).toBe(0);
    expect(JSON.parse(w.stdout).tensors.length).toBeGreaterThan(0);
  });
  it("a reader that closes the pipe early gets no EPIPE stack trace (the report is > 64 KB, past the pipe buffer)", () => {
    const err = path.join(dir, "epipe.err");
    const cmd = `"${process.execPath}" bin/rosetta.js "${model}" "${model}" --tokens 1,2,3,4,5,6,7,8 --gen 3 --json - -q 2>"${err}" | head -c 10 >/dev/null`;
    spawnSync("sh", ["-c", cmd], { cwd: REPO_ROOT, env: { ...process.env, NO_COLOR: "1" }, timeout: 60_000 });
    expect(readFileSync(err, "utf8")).not.toMatch(/EPIPE|internal error/);
  });
});

describe("parity on an APR model", () => {
  it("without --reference: says llama.cpp needs the GGUF and points at the layer-by-layer comparison", () => {
    const apr = path.join(dir, "m.apr");
    expect(runCli(["convert", model, apr, "-q"]).code).toBe(0);
    expectUserError(runCli(["parity", apr, "--tokens", "2", "--prompts", "0", "-q"]), /an APR model needs --reference ORIGINAL\.gguf.*rosetta .*m\.apr ORIGINAL\.gguf/);
  });
});
