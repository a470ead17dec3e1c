/**
 * Where rosetta's native addons are: the repository root (found from this file's location, so it works
 * from src/ under vitest and from dist/src/ compiled) and the build folder the addons are built into.
 */
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

import { MissingComponentError } from "../util/errors.js";

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

/** Absolute path of a built addon file: `${ROSETTA_BUILD_DIR ?? "build"}/Release/<file>` under the root. */
export function builtAddonPath(file: string): string {
  return path.resolve(repoRoot(), process.env.ROSETTA_BUILD_DIR ?? "build", "Release", file);
}
