/**
 * Compare-command options users expect to work everywhere: `--junit -` and `--html -` like `--json -`,
 * and input flags that cannot apply (two saved traces) warned about, never silently ignored.
 */
import { describe, expect, it } from "vitest";
describe("reports on standard output", () => {
  it("--junit - and --html - work like --json -; two of them at once is one clear line", async () => {
    const { runCli } = await import("../helpers/cli.js");
    const j = runCli(["demo", "--junit", "-", "-q"]);
    expect(j.stdout.trimStart()).toMatch(/^<\?xml/);
    const h = runCli(["demo", "--html", "-", "-q"]);
    expect(h.stdout.trimStart()).toMatch(/^<!DOCTYPE html>/i);
    const both = runCli(["demo", "--json", "-", "--html", "-", "-q"]);
    expect(both.code).toBe(2);
    expect(both.stderr).toMatch(/--json and --html all ask for standard output/);
  });
});

describe("nothing silently ignored", () => {
  it("--prompt/--gen with two saved traces: a one-line warning, in the report too", async () => {
    const { runCli } = await import("../helpers/cli.js");
    const { getFixture } = await import("../fixtures/lib/index.js");
    const os = await import("node:os");
    const path = await import("node:path");
    const fs = await import("node:fs");
    const d = fs.mkdtempSync(path.join(os.tmpdir(), "rosetta-unused-"));
    try {
      const f = await getFixture("llama", "F32");
      expect(runCli(["trace", f, "--engine", "rosetta", "--tokens", "1,2", "--out", path.join(d, "t"), "-q"]).code).toBe(0);
      const t = path.join(d, "t.json");
      const r = runCli([t, t, "--prompt", "hello", "--gen", "3", "--json", path.join(d, "r.json")]);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stderr).toMatch(/WARN compare: --prompt, --gen ignored: both sides are saved traces/);
      expect(JSON.parse(fs.readFileSync(path.join(d, "r.json"), "utf8")).warnings).toContain("--prompt, --gen ignored: both sides are saved traces, which fix their own input (tokens and decode steps)");
    } finally {
      fs.rmSync(d, { recursive: true, force: true });
    }
  });
});

describe("--log-format json", () => {
  it("a fatal error is one JSON line too (bad input, usage), with the same exit codes", async () => {
    const { runCli } = await import("../helpers/cli.js");
    const r = runCli(["/no/such/a.gguf", "/no/such/b.gguf", "--log-format", "json"]);
    expect(r.code).toBe(2);
    const lines = r.stderr.trim().split("\n");
    const last = JSON.parse(lines[lines.length - 1]);
    expect(last).toMatchObject({ level: 50, component: "cli", kind: "input", exitCode: 2 });
    expect(last.msg).toMatch(/\/no\/such\/a\.gguf/);
    const u = runCli(["demo", "--no-such-flag", "--log-format=json"]);
    expect(u.code).toBe(2);
    expect(JSON.parse(u.stderr.trim().split("\n").pop()!)).toMatchObject({ level: 50, kind: "usage" });
    // the readable form is unchanged
    expect(runCli(["/no/such/a.gguf", "/no/such/b.gguf"]).stderr).toMatch(/^rosetta: error: /);
  });
});
