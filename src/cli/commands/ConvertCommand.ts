/**
 * `rosetta convert in.gguf out.apr [--quantize q4k|q6k|apr-q4|apr-q8] [--inject DEFECT]`: GGUF to APR v2
 * with aprender's import conventions; `--inject` writes a variant carrying one named defect (docs/defects.md),
 * as APR or GGUF by the output extension.
 */
import type { CommandModule } from "yargs";

import { DEFECTS, injectDefect, parseDefect } from "../../convert/defects.js";
import { readGgufIr } from "../../convert/ir.js";
import { QUANTIZE_MODES, writeIrApr, writeIrGguf, type QuantizeMode } from "../../convert/to-apr.js";
import { sniffFile } from "../../formats/index.js";
import { InputError, UnsupportedError } from "../../util/errors.js";
import { logger } from "../../util/log.js";
import { checkWritable, writeOutputWith } from "../output.js";

export interface ConvertArgs {
  input: string;
  output: string;
  quantize?: string;
  inject?: string;
}

export async function runConvert(a: ConvertArgs): Promise<void> {
  const format = a.output.endsWith(".apr") ? "apr" : a.output.endsWith(".gguf") ? "gguf" : null;
  if (!format) throw new InputError(`${a.output}: output must end in .apr or .gguf`);
  if (a.quantize !== undefined && !QUANTIZE_MODES.includes(a.quantize as QuantizeMode)) {
    throw new InputError(`--quantize ${a.quantize}: expected one of ${QUANTIZE_MODES.join(", ")}`);
  }
  if (a.quantize && format === "gguf") throw new InputError(`--quantize applies to APR output only (use llama-quantize for GGUF)`);
  checkWritable(a.output, "");
  if ((await sniffFile(a.input)) !== "gguf") throw new UnsupportedError(`${a.input}: convert reads GGUF input only`);
  const ir = await readGgufIr(a.input);
  const defect = a.inject ? parseDefect(a.inject) : null;
  if (defect) injectDefect(ir, defect, format);
  // streamed: tensors go from the input file to the output a chunk at a time (any size, bounded memory)
  const bytes = await writeOutputWith(a.output, "", () => (format === "apr" ? writeIrApr(ir, a.output, { quantize: a.quantize as QuantizeMode | undefined }) : writeIrGguf(ir, a.output)));
  logger("convert").info({ input: a.input, output: a.output, bytes, quantize: a.quantize, inject: a.inject }, `wrote ${format.toUpperCase()} ${a.output}`);
}

export const convertCommand: CommandModule<object, ConvertArgs> = {
  command: "convert <input> <output>",
  describe: "Convert a GGUF model to APR v2 (aprender's import conventions), optionally with one injected defect",
  builder: (y) =>
    y
      .positional("input", { type: "string", demandOption: true, describe: "GGUF model" })
      .positional("output", { type: "string", demandOption: true, describe: "output file (.apr or .gguf)" })
      .option("quantize", { type: "string", choices: [...QUANTIZE_MODES], describe: "requantize tensors that are not F32/F16/Q4_K/Q6_K-verbatim" })
      .option("inject", { type: "string", describe: `one defect (docs/defects.md): ${DEFECTS.map((d) => d.syntax).join(", ")}` })
      .example("rosetta convert model.gguf model.apr", "APR v2, tensors kept in their types where APR has them")
      .example("rosetta convert model.gguf bad.apr --inject transpose:attn_q@0", "a variant with one known defect")
      .example("rosetta convert model.gguf bad.gguf --inject rms-eps=1e-3", "the same, as GGUF")
      .epilogue("Exit codes: 0 written, 2 bad input, an unknown defect or one the model cannot carry, 3 internal error.") as never,
  handler: async (a) => runConvert(a),
};
