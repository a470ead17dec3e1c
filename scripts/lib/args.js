// The scripts' tiny argument reader: `--name value` pairs after the script name, and the repo root.
import path from "node:path";
import { fileURLToPath } from "node:url";

export const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
export const args = process.argv.slice(2);

/** The value after `--name`, or undefined. */
export function opt(name) {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
}
