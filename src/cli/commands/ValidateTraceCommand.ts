/**
 * `rosetta validate-trace FILE`: does a trace another engine wrote (python/rosetta_trace, or any writer of
 * docs/trace-format.md) pass everything rosetta checks when it reads one? The JSON (readTrace) and its
 * full tensors (readTraceTensors: shapes, and every tensor against its point's summaries). Prints
 * `ok: N points, M full tensors, steps S` on stdout (exit 0), or the problem in one line (exit 2). The
 * reader stops at the first problem it finds: fix it and run again to see the next one.
 */
import type { CommandModule } from "yargs";

import { readTrace, readTraceTensors } from "../../trace/io.js";

export interface ValidateTraceArgs {
  file: string;
}

export interface ValidateTraceSummary {
  points: number;
  fullTensors: number;
  steps: number;
}

/** Throws InputError (exit 2, one line) on the first problem; otherwise the counts the command prints. */
export function validateTrace(file: string): ValidateTraceSummary {
  const trace = readTrace(file);
  const tensors = readTraceTensors(file, trace);
  const used = new Set<string>();
  for (const p of trace.points) if (p.tensor && tensors.has(p.tensor)) used.add(p.tensor);
  if (trace.logits?.tensor) used.add(trace.logits.tensor);
  return { points: trace.points.length, fullTensors: used.size, steps: new Set(trace.points.map((p) => p.step)).size };
}

export function formatValidation(s: ValidateTraceSummary): string {
  return `ok: ${s.points} points, ${s.fullTensors} full tensors, steps ${s.steps}`;
}

export const validateTraceCommand: CommandModule<object, ValidateTraceArgs> = {
  command: "validate-trace <file>",
  describe: "Check that a trace file (BASE.json + BASE.safetensors) from any writer is one rosetta reads",
  builder: (y) =>
    y
      .positional("file", { type: "string", demandOption: true, description: "The trace JSON (its safetensors file is found through its `tensors` field)" })
      .example("rosetta validate-trace out/myengine.json", "ok: 38 points, 38 full tensors, steps 1")
      .epilogue(
        "Runs the checks rosetta applies whenever it reads a trace (docs/trace-format.md, \"Validation on read\" and \"Conformance\"); " +
          "it stops at the first problem, printed as one line. Exit codes: 0 valid, 2 not a valid trace, 3 internal error.",
      ),
  handler: (a) => {
    process.stdout.write(formatValidation(validateTrace(a.file)) + "\n");
  },
};
