/**
 * Foreign traces: the importers rosetta knows, and one reader for any trace file, rosetta's own or
 * another engine's (docs/foreign-traces.md).
 */
import { closeSync, openSync, readSync, statSync } from "node:fs";

import { readTrace, readTraceTensors } from "../trace/io.js";
import { InputError } from "../util/errors.js";
import { aprenderImporter } from "./aprender.js";
import { aprenderTensorsImporter } from "./aprender-tensors.js";
import { evalCallbackImporter } from "./eval-callback-trace.js";
import { transformersDebugImporter } from "./transformers-debug.js";
import type { Imported, Importer, ImportOptions } from "./types.js";

export type { Imported, Importer, ImportOptions };

export const IMPORTERS: readonly Importer[] = [aprenderImporter, aprenderTensorsImporter, transformersDebugImporter, evalCallbackImporter];

function head(file: string, n = 4096): string {
  let fd: number;
  try {
    fd = openSync(file, "r");
  } catch (e) {
    throw new InputError(`${file}: cannot open file (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
  }
  try {
    const buf = Buffer.alloc(n);
    const got = readSync(fd, buf, 0, n, 0);
    return buf.subarray(0, got).toString("utf8");
  } finally {
    closeSync(fd);
  }
}

function isDir(file: string): boolean {
  try {
    return statSync(file).isDirectory();
  } catch {
    return false;
  }
}

/** The importer for a foreign dump (by name, or by sniffing its first bytes), or null for a rosetta trace. */
export function importerFor(file: string, format?: string): Importer | null {
  if (format) {
    const i = IMPORTERS.find((x) => x.format === format);
    if (!i) throw new InputError(`--format ${format}: not a format rosetta imports (known: ${IMPORTERS.map((x) => x.format).join(", ")})`);
    return i;
  }
  if (isDir(file)) return IMPORTERS.find((x) => x.sniffDir?.(file)) ?? null;
  const h = head(file);
  if (/"format"\s*:\s*"rosetta-trace"/.test(h)) return null;
  return IMPORTERS.find((x) => x.sniff(h)) ?? null;
}

/** Any trace file: rosetta's own format (with its safetensors beside it), or a dump an importer reads. */
export function readAnyTrace(file: string, format?: string, options?: ImportOptions): Imported {
  const imp = importerFor(file, format);
  if (imp) return imp.read(file, options);
  if (isDir(file)) throw new InputError(`${file}: a directory, and not one of dumps rosetta imports (${IMPORTERS.filter((x) => x.sniffDir).map((x) => x.format).join(", ")})`);
  const trace = readTrace(file);
  return { trace, tensors: readTraceTensors(file, trace) };
}
