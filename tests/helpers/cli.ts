/** Runs the built CLI (bin/rosetta.js over dist/) as a user would, capturing stdout, stderr and the exit code. */
import { spawnSync } from "node:child_process";
import path from "node:path";

import { REPO_ROOT } from "./shared.js";

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export function runCli(args: string[], env: Record<string, string> = {}): CliResult {
  const r = spawnSync(process.execPath, [path.join(REPO_ROOT, "bin/rosetta.js"), ...args], {
    encoding: "utf8",
    env: { ...process.env, NO_COLOR: "1", ...env },
    timeout: 120_000,
    maxBuffer: 64 << 20,
  });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}
