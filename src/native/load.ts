/**
 * The one place that loads rosetta's native addon: `${ROSETTA_BUILD_DIR ?? "build"}/Release/rosetta.node`
 * relative to the repository root, found from this file's location so it works from src/ (vitest) and
 * from dist/src/ (compiled).
 */
import { existsSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";

import { MissingComponentError } from "../util/errors.js";
import type { RosettaAddon } from "./binding.js";

let cached: RosettaAddon | null = null;

/** The nearest ancestor directory holding rosetta's own package.json. */
export function repoRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pkg = path.join(dir, "package.json");
    if (existsSync(pkg)) {
      try {
        if ((JSON.parse(readFileSync(pkg, "utf8")) as { name?: string }).name === "rosetta") return dir;
      } catch {
        // not ours (or unreadable): keep walking up
      }
    }
    const up = path.dirname(dir);
    if (up === dir) throw new MissingComponentError("cannot find rosetta's package.json above " + fileURLToPath(import.meta.url));
    dir = up;
  }
}

/** Absolute path of the addon this process loads (whether or not it exists). */
export function addonPath(): string {
  return path.resolve(repoRoot(), process.env.ROSETTA_BUILD_DIR ?? "build", "Release", "rosetta.node");
}

/** The native addon, loaded once. Throws MissingComponentError with build instructions if absent. */
export function loadAddon(): RosettaAddon {
  if (cached) return cached;
  const file = addonPath();
  if (!existsSync(file)) {
    throw new MissingComponentError(
      [
        `rosetta's native addon is not built: ${file} does not exist.`,
        `  Build it with \`npm run build:native\` (needs cmake >= 3.18 and a C++17 compiler; ${process.platform}-${process.arch}, node ${process.versions.node}).`,
        process.env.ROSETTA_BUILD_DIR
          ? `  ROSETTA_BUILD_DIR=${process.env.ROSETTA_BUILD_DIR} is set: build with the same variable.`
          : `  (ROSETTA_BUILD_DIR picks another build folder; it is unset, so build/ is used.)`,
      ].join("\n"),
    );
  }
  try {
    cached = createRequire(import.meta.url)(file) as RosettaAddon;
  } catch (e) {
    throw new MissingComponentError(
      `rosetta's native addon ${file} failed to load: ${(e as Error).message}\n` +
        `  Rebuild it with \`npm run build:native\` (${process.platform}-${process.arch}, node ${process.versions.node}).`,
    );
  }
  return cached;
}
