/**
 * `rosetta import FILE --out BASE [--format NAME] [--tokens IDS]`: another engine's dump (src/importers:
 * aprender's `apr trace --json --payload`, a directory of aprender's `--save-tensor` APRT dumps,
 * transformers' model-addition debugger JSON) as a rosetta trace on disk. `rosetta A B` reads such dumps directly; this
 * saves the converted trace (to inspect it, or to compare it later without the importer).
 */
import { closeSync, openSync, readSync } from "node:fs";

import type { CommandModule } from "yargs";

import { IMPORTERS, importerFor, readAnyTrace } from "../../importers/index.js";
import { traceBase, writeTrace } from "../../trace/io.js";
import { InputError } from "../../util/errors.js";
import { checkWritable } from "../output.js";
import { parseTokens } from "./CompareCommand.js";

export interface ImportArgs {
  file: string;
  out: string;
  format?: string;
  tokens?: string;
  quiet?: boolean;
}

function readHead(file: string): string {
  try {
    const fd = openSync(file, "r");
    try {
      const b = Buffer.alloc(4);
      readSync(fd, b, 0, 4, 0);
      return b.toString("latin1");
    } finally {
      closeSync(fd);
    }
  } catch {
    return "";
  }
}

export function importHandler(a: ImportArgs): string {
  const imp = importerFor(a.file, a.format);
  if (!imp && /^(GGUF|APR)/.test(readHead(a.file))) throw new InputError(`${a.file}: a model file, not another engine's dump: compare it directly (rosetta ${a.file} OTHER)`);
  if (!imp) throw new InputError(`${a.file}: already a rosetta trace, or not a dump rosetta imports (formats: ${IMPORTERS.map((i) => `${i.format}: ${i.describe}`).join("; ")})`);
  checkWritable(traceBase(a.out) + ".json", "--out");
  const { trace, tensors } = readAnyTrace(a.file, imp.format, { tokens: parseTokens(a.tokens) });
  return writeTrace(a.out, trace, tensors.size ? tensors : undefined);
}

export const importCommand: CommandModule<object, ImportArgs> = {
  command: "import <file>",
  describe: "Convert another engine's dump (aprender trace JSON, APRT dump directory, llama-eval-callback output, transformers debugger JSON) into a rosetta trace",
  builder: (y) =>
    y
      .positional("file", { type: "string", demandOption: true, description: "The dump to import (a file, or a directory of APRT stage dumps)" })
      .option("out", { type: "string", demandOption: true, description: "Output base: writes <out>.json (+ <out>.safetensors when the dump holds full tensors)" })
      .option("tokens", { type: "string", description: "The prompt's token ids (comma-separated), for dumps that do not record them (APRT directories, a transformers debugger SUMMARY)" })
      .option("format", { type: "string", choices: IMPORTERS.map((i) => i.format), description: "The dump's format (default: recognized from its first bytes)" })
      .example("rosetta import apr-trace.json --out apr", "apr.json: aprender's summaries as a rosetta trace (which sample each covers, from the counts)")
      .example("rosetta import trace-tensors/run1 --out aprt --tokens 1,2,3", "a directory of APRT stage dumps (full tensors; tokens from an aprender trace JSON beside them, or --tokens)")
      .example("rosetta apr-trace.json model.gguf --tokens 1,2,3", "or compare the dump directly")
      .epilogue("Exit codes: 0 ok, 2 bad input or usage (one line naming the problem), 3 internal error. docs/foreign-traces.md."),
  handler: (a) => {
    const file = importHandler(a);
    if (!a.quiet) process.stderr.write(`rosetta: wrote ${file}\n`);
  },
};
