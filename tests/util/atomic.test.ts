/**
 * Writes are atomic (src/util/atomic.ts): a process killed in the middle of writing a file leaves no
 * partial file under the name it was writing (and an earlier complete file stays whole); a failed write
 * leaves no temporary file behind.
 */
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";

import { afterAll, describe, expect, it } from "vitest";

import { writeFileAtomic } from "../../src/util/atomic.js";
import { REPO_ROOT } from "../helpers/shared.js";

const dir = mkdtempSync(path.join(os.tmpdir(), "rosetta-atomic-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Starts a process writing 256 MB to `dest` atomically, kills it (SIGKILL) once its temporary file exists. */
async function killMidWrite(dest: string): Promise<boolean> {
  const mod = pathToFileURL(path.join(REPO_ROOT, "dist/src/util/atomic.js")).href;
  const child = spawn(process.execPath, ["--input-type=module", "-e", `import { writeFileAtomic } from ${JSON.stringify(mod)}; writeFileAtomic(process.argv[1], Buffer.alloc(256 << 20, 7));`, dest], { stdio: "ignore" });
  const exited = new Promise<void>((r) => child.on("exit", () => r()));
  const t0 = Date.now();
  let seen = false;
  while (Date.now() - t0 < 20_000) {
    if (readdirSync(dir).some((f) => f.startsWith(`.${path.basename(dest)}.tmp-`))) {
      seen = true;
      child.kill("SIGKILL");
      break;
    }
    if (child.exitCode !== null) break;
    await new Promise((r) => setTimeout(r, 2));
  }
  await exited;
  return seen;
}

describe("atomic writes", () => {
  it("a process killed mid-write leaves no partial file, and an earlier file whole", async () => {
    const fresh = path.join(dir, "fresh.json");
    const killed = await killMidWrite(fresh);
    expect(killed, "the writer finished before its temporary file was seen").toBe(true);
    expect(existsSync(fresh)).toBe(false);
    const old = path.join(dir, "old.json");
    writeFileSync(old, "the complete earlier version\n");
    expect(await killMidWrite(old)).toBe(true);
    expect(readFileSync(old, "utf8")).toBe("the complete earlier version\n");
  }, 60_000);

  it("a write that fails leaves nothing behind; one that succeeds leaves only the file", () => {
    expect(() => writeFileAtomic(path.join(dir, "no-such-folder", "x.json"), "x")).toThrow();
    const f = path.join(dir, "ok.json");
    writeFileAtomic(f, "{}\n");
    expect(readFileSync(f, "utf8")).toBe("{}\n");
    expect(readdirSync(dir).some((n) => n.startsWith(".ok.json.tmp-"))).toBe(false);
  });
});
