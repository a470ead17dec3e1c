/**
 * `rosetta bisect` as a user runs it (built CLI) on a defect pair built from the llama fixture
 * (ffn_gate and ffn_up of layer 1 exchanged): a script, the --auto search, and a real session in a
 * pseudo-terminal (util-linux `script`), typing at the `bisect> ` prompt.
 */
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";

import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { injectDefect, parseDefect } from "../../src/convert/defects.js";
import { irToGguf, readGgufIr } from "../../src/convert/ir.js";
import { getFixture } from "../fixtures/lib/index.js";
import { runCli } from "../helpers/cli.js";
import { REPO_ROOT } from "../helpers/shared.js";

const dir = mkdtempSync(path.join(os.tmpdir(), "rosetta-cli-bisect-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const TOKENS = "1,2,3,4,5";
let good = "";
const bad = path.join(dir, "bad.gguf");
// the session history goes to a temporary state dir, not the user's
const env = { XDG_STATE_HOME: path.join(dir, "state") };

beforeAll(async () => {
  good = await getFixture("llama", "F32");
  const ir = await readGgufIr(good);
  injectDefect(ir, parseDefect("swap-gate-up@1"), "gguf");
  writeFileSync(bad, irToGguf(ir));
});

const haveScript = spawnSync("script", ["--version"]).status === 0;

/** `rosetta -q bisect ARGS` in a pseudo-terminal (util-linux `script`), waiting at its first prompt. */
async function pty(args: string[]) {
  const cmd = [process.execPath, path.join(REPO_ROOT, "bin/rosetta.js"), "-q", "bisect", ...args].map((x) => `'${x}'`).join(" ");
  const child = spawn("script", ["-qfec", cmd, "/dev/null"], { env: { ...process.env, ...env, NO_COLOR: "1", TERM: "xterm" }, stdio: ["pipe", "pipe", "pipe"] });
  let text = "";
  // the screen as text: readline's cursor movements and line clears taken out
  child.stdout.on("data", (d: Buffer) => (text += d.toString().replace(/\x1b\[[0-9;?]*[A-Za-z]/g, "")));
  const waitFor = async (re: RegExp, from = 0) => {
    const t0 = Date.now();
    while (!re.test(text.slice(from))) {
      if (Date.now() - t0 > 60_000) throw new Error(`timed out waiting for ${re}; screen:\n${text}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  const type = async (x: string) => {
    child.stdin.write(x);
    await new Promise((r) => setTimeout(r, 200));
  };
  await waitFor(/bisect> /);
  /** Types a command, waits for its answer and the next prompt, returns what it printed. */
  const ask = async (line: string, expect: RegExp) => {
    const from = text.length;
    child.stdin.write(`${line}\r`);
    await waitFor(new RegExp(`${expect.source}[\\s\\S]*bisect> `), from);
    return text.slice(from);
  };
  return { child, waitFor, type, ask, screen: () => text, mark: () => text.length };
}

describe("rosetta bisect", () => {
  it("--script: taking both exchanged tensors makes every point match (exit 0); one alone does not (exit 1)", () => {
    const ok = path.join(dir, "ok.txt");
    writeFileSync(ok, "# the two exchanged tensors\ntake blk.1.ffn_gate blk.1.ffn_up\nhistory\n");
    const r = runCli(["-q", "bisect", bad, good, "--tokens", TOKENS, "--script", ok], env);
    expect(r.code, r.stderr + r.stdout).toBe(0);
    expect(r.stdout).toMatch(/first divergence: blk\.1\.ffn_gate/);
    expect(r.stdout).toMatch(/first divergence before: blk\.1\.ffn_gate \(NMSE [^)]+\)  after: none/);
    expect(r.stdout).toMatch(/every point matches/);

    const half = path.join(dir, "half.txt");
    writeFileSync(half, "take blk.1.ffn_gate\n");
    const h = runCli(["-q", "bisect", bad, good, "--tokens", TOKENS, "--script", half], env);
    expect(h.code, h.stderr).toBe(1);
    expect(h.stdout).toMatch(/after: blk\.1\.ffn_up/);
    expect(h.stdout).toMatch(/still diverges/);

    // a role across layers and undo/redo
    const roles = path.join(dir, "roles.txt");
    writeFileSync(roles, "take *.ffn_gate\ntake blk.1.*\nundo\nredo\n");
    const x = runCli(["-q", "bisect", bad, good, "--tokens", TOKENS, "--script", roles], env);
    expect(x.code, x.stderr).toBe(0);
    expect(x.stdout).toMatch(/transplanted: blk\.0\.ffn_gate, blk\.1\.ffn_gate\n/);
  });

  it("--script: an unknown command is one clear line, exit 2", () => {
    const s = path.join(dir, "bad.txt");
    writeFileSync(s, "take blk.1.ffn_gate\nfrobnicate\n");
    const r = runCli(["-q", "bisect", bad, good, "--tokens", TOKENS, "--script", s], env);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(r.stderr).toMatch(/bad\.txt:2: unknown command 'frobnicate'/);
    const k = path.join(dir, "badkey.txt");
    writeFileSync(k, "take blk.9.ffn_gate\n");
    const rk = runCli(["-q", "bisect", bad, good, "--tokens", TOKENS, "--script", k], env);
    expect(rk.code).toBe(2);
    expect(rk.stderr).toMatch(/blk\.9\.ffn_gate names no tensor/);
  });

  it("--auto --json finds exactly the injected tensors", () => {
    const json = path.join(dir, "auto.json");
    const r = runCli(["-q", "bisect", bad, good, "--tokens", TOKENS, "--auto", "--json", json], env);
    expect(r.code, r.stderr + r.stdout).toBe(0);
    expect(r.stdout).toMatch(/rerun 1: /);
    const j = JSON.parse(readFileSync(json, "utf8"));
    expect(j.minimal).toEqual(["blk.1.ffn_gate", "blk.1.ffn_up"]);
    expect(j.matches).toBe(true);
    expect(j.reruns).toBeGreaterThan(0);
    expect(typeof j.ms).toBe("number");
  });

  it.skipIf(!haveScript)("a real session in a pseudo-terminal: prompt, take with tab-completed keys, command completion, Ctrl-C, quit", async () => {
    const { child, waitFor, type, screen, mark: at } = await pty([bad, good, "--tokens", TOKENS]);
    let mark = at();
    await type("take blk.1.ffn_g\t");
    await type(" blk.1.ffn_u\t");
    child.stdin.write("\r");
    await waitFor(/every point matches[\s\S]*bisect> /, mark);
    mark = at();
    child.stdin.write("frob\r");
    await waitFor(/unknown command 'frob'[\s\S]*bisect> /, mark);
    // tab completes a command name; Ctrl-C at the prompt does not end the session
    mark = at();
    await type("overv\t");
    child.stdin.write("\r");
    await waitFor(/verdict: DIVERGED[\s\S]*bisect> /, mark);
    mark = at();
    child.stdin.write("\x03");
    await waitFor(/type quit to leave[\s\S]*bisect> /, mark);
    child.stdin.write("quit\r");
    const code = await new Promise<number | null>((r) => child.on("close", r));
    expect(screen()).toMatch(/transplanted: blk\.1\.ffn_gate, blk\.1\.ffn_up\r?\n/);
    expect(screen()).toMatch(/first divergence before: blk\.1\.ffn_gate \(NMSE [^)]+\)  after: none/);
    expect(code).toBe(0);
    // the history file got the typed lines
    const hist = readFileSync(path.join(env.XDG_STATE_HOME, "rosetta", "bisect_history"), "utf8");
    expect(hist).toMatch(/take blk\.1\.ffn_gate blk\.1\.ffn_up/);
  }, 90_000);
});

describe.skipIf(!haveScript)("rosetta bisect sessions, typed in a pseudo-terminal", () => {
  it("exact numerics show a divergence is precision: ggml against exact numerics of one F16 file, at a 1e-12 threshold", async () => {
    const f16 = await getFixture("llama", "F16");
    const { child, ask } = await pty([f16, f16, "--numerics-b", "exact", "--tokens", TOKENS, "--threshold", "1e-12"]);
    expect(await ask("overview", /first divergence: blk\.0\.q/)).toMatch(/verdict: DIVERGED/);
    // layer 0 alone moves the first divergence on; every layer and the head in exact numerics: every point matches
    expect(await ask("exact 0", /still diverges/)).toMatch(/after: blk\.1\.q/);
    const all = await ask("exact all", /every point matches/);
    expect(all).toMatch(/exact numerics on: layer\(s\) 0, 1 and the output head/);
    expect(all).toMatch(/after: none/);
    // the same values whatever the instruction set
    expect(await ask("isa scalar", /every point matches/)).toMatch(/every point is bit-identical to the run before/);
    child.stdin.write("quit\r");
    expect(await new Promise<number | null>((r) => child.on("close", r))).toBe(0);
  }, 90_000);

  it("finds the first bad decode step: a RoPE base defect leaves position 0 clean and breaks the decode steps", async () => {
    const ir = await readGgufIr(good);
    injectDefect(ir, parseDefect("rope-base=20000"), "gguf");
    const rope = path.join(dir, "rope.gguf");
    writeFileSync(rope, irToGguf(ir));
    const { child, ask } = await pty([rope, good, "--tokens", "1", "--gen", "4"]);
    const steps = await ask("steps", /step +4/);
    expect(steps).toMatch(/step +0 +worst nmse 0 +within every gate/);
    expect(steps).toMatch(/step +1 +worst nmse \S+ +first divergent blk\.0\.q_rope \(layer 0\)/);
    const auto = await ask("auto", /minimal set/);
    expect(auto).toMatch(/first divergent point blk\.0\.q_rope at step 1 \(layer 0\)/);
    expect(auto).toMatch(/minimal set \(\d+ rerun\(s\)\): meta:ropeBase/);
    child.stdin.write("quit\r");
    expect(await new Promise<number | null>((r) => child.on("close", r))).toBe(0);
  }, 90_000);
});
