/**
 * `--html FILE` on the CLI and `rosetta report REPORT.json --html FILE` (docs/report.md): one file
 * written, self-contained (no external src/href), the same page from a saved report, bad input exit 2.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";

import { afterAll, describe, expect, it } from "vitest";

import { runCli } from "../helpers/cli.js";

const dir = mkdtempSync(path.join(os.tmpdir(), "rosetta-report-cli-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("rosetta --html / rosetta report", () => {
  it("demo --html --json, then report --html from the JSON: one self-contained page each", () => {
    const html = path.join(dir, "demo.html");
    const json = path.join(dir, "demo.json");
    const r = runCli(["demo", "--html", html, "--json", json]);
    expect(r.code).toBe(0);
    const page = readFileSync(html, "utf8");
    expect(page).toContain('<script type="application/json" id="rosetta-data">');
    expect(page).not.toMatch(/\s(src|href)=["']?(https?:|\/\/)/i);
    expect(page).toContain("rosetta: DIVERGED");
    const again = path.join(dir, "again.html");
    const r2 = runCli(["report", json, "--html", again]);
    expect(r2.code).toBe(0);
    expect(readFileSync(again, "utf8")).toContain("blk.0.q");
  });

  it("report: not a rosetta report, or a missing folder for --html: exit 2, one line", () => {
    const bad = path.join(dir, "x.json");
    writeFileSync(bad, JSON.stringify({ hello: 1 }));
    const r = runCli(["report", bad, "--html", path.join(dir, "x.html")]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("not a rosetta report");
    const r2 = runCli(["report", bad, "--html", path.join(dir, "nope", "x.html")]);
    expect(r2.code).toBe(2);
    expect(r2.stderr).toContain("--html");
  });
});

