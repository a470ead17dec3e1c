/**
 * `rosetta convert in.gguf out.apr [--quantize q4k|q6k|apr-q4|apr-q8] [--inject DEFECT]`: GGUF to APR v2
 * with aprender's import conventions; `--inject` writes a variant carrying one named defect (docs/defects.md),
 * as APR or GGUF by the output extension. `out.gguf --quantize Q4_K_M` (any LLAMA_FTYPES name) writes GGUF
 * through llama.cpp's quantizer. Tensors written in a wider type than they were read in are one warning line.
 */
import { closeSync, openSync, readSync } from "node:fs";

import type { CommandModule } from "yargs";

import { DEFECTS, injectDefect, parseDefect } from "../../convert/defects.js";
import { readGgufIr } from "../../convert/ir.js";
import { describeWidening, QUANTIZE_MODES, withLlamaQuantized, writeIrApr, writeIrGguf, type QuantizeMode, type TypeChange } from "../../convert/to-apr.js";
import { typeTraitsById } from "../../bindings/kernels.js";
import { LLAMA_FTYPES } from "../../bindings/llama.js";
import { writeFileAtomicChunks } from "../../util/atomic.js";
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
  if (a.quantize !== undefined && format === "apr" && !QUANTIZE_MODES.includes(a.quantize as QuantizeMode)) {
    throw new InputError(`--quantize ${a.quantize}: for APR output, expected one of ${QUANTIZE_MODES.join(", ")}${(LLAMA_FTYPES as readonly string[]).includes(a.quantize) ? ` (${a.quantize} is a llama.cpp type: write a .gguf)` : ""}`);
  }
  if (a.quantize !== undefined && format === "gguf" && !(LLAMA_FTYPES as readonly string[]).includes(a.quantize)) {
    throw new InputError(`--quantize ${a.quantize}: for GGUF output, expected a llama.cpp type: ${LLAMA_FTYPES.join(", ")}`);
  }
  checkWritable(a.output, "");
  if ((await sniffFile(a.input)) !== "gguf") throw new UnsupportedError(`${a.input}: convert reads GGUF input only`);
  const ir = await readGgufIr(a.input);
  const defect = a.inject ? parseDefect(a.inject) : null;
  if (defect) injectDefect(ir, defect, format);
  const log = logger("convert");
  const changes: TypeChange[] = [];
  // streamed: tensors go from the input file to the output a chunk at a time (any size, bounded memory)
  const bytes = await writeOutputWith(a.output, "", async () => {
    if (format === "apr") return writeIrApr(ir, a.output, { quantize: a.quantize as QuantizeMode | undefined, changes });
    if (!a.quantize) return writeIrGguf(ir, a.output);
    // llama.cpp's quantizer from the npm-shipped libllama, as llama-quantize runs it (its own mix of types:
    // e.g. Q4_K_M keeps some tensors in Q6_K, 1-D norms stay F32)
    return withLlamaQuantized(ir, a.quantize, false, async (f) => {
      const q = await readGgufIr(f);
      const out = new Map(q.tensors.map((t) => [t.name, t.type]));
      for (const t of ir.tensors) if (out.has(t.name)) changes.push({ name: t.name, from: t.type, to: out.get(t.name)! });
      return writeFileAtomicChunks(a.output, fileChunks(f));
    });
  });
  const widened = describeWidening(changes, format === "apr"
    ? "APR holds F32, F16, BF16, Q4_K, Q6_K and its own APR_Q4/APR_Q8; --quantize q4k, q6k, apr-q4 or apr-q8 keeps it small"
    : "llama.cpp's quantizer was given the dequantized F32 weights");
  if (widened) log.warn(widened);
  const types = [...new Set(changes.map((c) => typeTraitsById(c.to)?.name ?? String(c.to)))].join(", ");
  log.info({ input: a.input, output: a.output, bytes, quantize: a.quantize, inject: a.inject }, `wrote ${format.toUpperCase()} ${a.output}${types ? ` (tensor types: ${types})` : ""}`);
}

export const convertCommand: CommandModule<object, ConvertArgs> = {
  command: "convert <input> <output>",
  describe: "Convert a GGUF model to APR v2 (aprender's import conventions), optionally with one injected defect",
  builder: (y) =>
    y
      .positional("input", { type: "string", demandOption: true, describe: "GGUF model" })
      .positional("output", { type: "string", demandOption: true, describe: "output file (.apr or .gguf)" })
      .option("quantize", { type: "string", describe: `APR output: ${QUANTIZE_MODES.join(", ")} (requantize tensors APR does not hold verbatim); GGUF output: a llama.cpp type, written by llama.cpp's own quantizer: ${LLAMA_FTYPES.join(", ")}` })
      .option("inject", { type: "string", describe: `one defect (docs/defects.md): ${DEFECTS.map((d) => d.syntax).join(", ")}` })
      .example("rosetta convert model.gguf model.apr", "APR v2, tensors kept in their types where APR has them")
      .example("rosetta convert model-f32.gguf model-q4km.gguf --quantize Q4_K_M", "GGUF in a llama.cpp type (its Q4_K_M mix)")
      .example("rosetta convert model.gguf bad.apr --inject transpose:attn_q@0", "a variant with one known defect")
      .example("rosetta convert model.gguf bad.gguf --inject rms-eps=1e-3", "the same, as GGUF")
      .epilogue("Exit codes: 0 written, 2 bad input, an unknown defect or one the model cannot carry, 3 internal error.") as never,
  handler: async (a) => runConvert(a),
};

/** A file's bytes, 16 MiB at a time (a quantized model copied to its destination without holding it). */
function* fileChunks(file: string): Generator<Uint8Array> {
  const fd = openSync(file, "r");
  try {
    const buf = Buffer.alloc(16 << 20);
    for (let pos = 0; ; ) {
      const n = readSync(fd, buf, 0, buf.length, pos);
      if (n === 0) return;
      yield buf.subarray(0, n);
      pos += n;
    }
  } finally {
    closeSync(fd);
  }
}
