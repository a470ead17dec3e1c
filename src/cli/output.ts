/**
 * Output files named on the command line (--json, --junit, --out, convert's output). A path the user got
 * wrong is their mistake (exit 2, one line), not a bug, and it is checked before a run that may take
 * minutes, so the run's work is not thrown away at the end.
 */
import { statSync } from "node:fs";

import { writeFileAtomic } from "../util/atomic.js";
import path from "node:path";

import { InputError } from "../util/errors.js";

/** Throws an InputError unless `file` could be created or overwritten (its folder exists, it is not a folder). */
export function checkWritable(file: string, flag: string): void {
  const where = flag ? `${flag} ${file}` : file;
  const st = statSync(file, { throwIfNoEntry: false });
  if (st?.isDirectory()) throw new InputError(`${where}: is a directory; give a file name`);
  const dir = statSync(path.dirname(path.resolve(file)), { throwIfNoEntry: false });
  if (!dir) throw new InputError(`${where}: folder ${path.dirname(file)} does not exist`);
  if (!dir.isDirectory()) throw new InputError(`${where}: ${path.dirname(file)} is not a folder`);
}

/** An atomic write (whole or nothing), with a file-system refusal (permissions, a full disk) reported as the user's input error. */
export function writeOutput(file: string, data: string | Uint8Array, flag: string): void {
  void writeOutputWith(file, flag, () => writeFileAtomic(file, data));
}

/** The same for a writer that streams `file` itself (an atomic chunked write: a converted model). */
export function writeOutputWith<R>(file: string, flag: string, write: () => R): R {
  const refused = (e: unknown): never => {
    const err = e as NodeJS.ErrnoException;
    if (typeof err.code !== "string") throw e;
    throw new InputError(`${flag ? `${flag} ` : ""}${file}: cannot write (${err.code})`);
  };
  try {
    const r = write();
    return (r instanceof Promise ? r.catch(refused) : r) as R;
  } catch (e) {
    return refused(e);
  }
}
