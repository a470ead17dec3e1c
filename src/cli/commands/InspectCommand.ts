/**
 * `rosetta inspect <model>`: the config and every tensor (name, role, dims in the file's own order and
 * as row-major [out, in], dtype, bytes, layout verdict). The load-time layout log goes to stderr as on
 * every load; `--json` prints the whole report on stdout.
 */
import type { CommandModule } from "yargs";

import { showMeta } from "../../compare/format.js";
import { loadModel } from "../../formats/index.js";
import type { LoadedModel } from "../../formats/model.js";

export interface InspectArgs {
  model: string;
  json?: boolean;
}

export function inspectReport(m: LoadedModel) {
  const verdicts = new Map(m.layout.map((c) => [c.name, c]));
  return {
    file: m.path,
    format: m.format,
    fileSize: m.fileSize,
    config: m.config,
    tensors: m.tensors.map((t) => ({
      name: t.name,
      role: verdicts.get(t.name)?.key ?? null,
      fileDims: t.fileDims,
      dims: t.dims,
      expected: verdicts.get(t.name)?.expected ?? null,
      dtype: t.typeName,
      bytes: t.byteLength,
      verdict: verdicts.get(t.name)?.verdict ?? "UNUSED",
    })),
  };
}

function table(rows: string[][]): string {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  return rows.map((r) => r.map((c, i) => c.padEnd(widths[i])).join("  ").trimEnd()).join("\n");
}

function printText(m: LoadedModel): void {
  const r = inspectReport(m);
  const c = m.config;
  const lines = [
    `${m.path}  (${m.format.toUpperCase()}, ${m.fileSize} bytes)`,
    `arch ${c.arch}: ${c.nLayer} layers, n_embd ${c.nEmbd}, heads ${c.nHead} (kv ${c.nHeadKv}, head_dim ${c.headDim}), ffn ${c.nFf}, vocab ${c.nVocab}`,
    `rope: ${c.ropeLayout}, base ${c.ropeBase}, dims ${c.ropeDim}, scaling ${c.ropeScaling.type}; rms eps ${showMeta(c.rmsEps)}; ` +
      `tied embeddings ${c.tiedEmbeddings ? "yes" : "no"}; qkv bias ${c.qkvBias ? "yes" : "no"}; q/k norm ${c.qkNorm ? "yes" : "no"}; ctx ${c.nCtxTrain}`,
    "",
  ];
  const fmt = (d: number[] | null) => (d ? `[${d.join(", ")}]` : "-");
  const rows = [["name", "role", "file dims", "row-major", "expected", "dtype", "bytes", "layout"]];
  for (const t of r.tensors) rows.push([t.name, t.role ?? "-", fmt(t.fileDims), fmt(t.dims), fmt(t.expected), t.dtype, String(t.bytes), t.verdict]);
  process.stdout.write(lines.join("\n") + table(rows) + "\n");
}

export const inspectCommand: CommandModule<object, InspectArgs> = {
  command: "inspect <model>",
  describe: "Show a model's config and tensor table with layout verdicts",
  builder: (y) =>
    y
      .positional("model", { type: "string", demandOption: true, description: "GGUF or APR model file" })
      .option("json", { type: "boolean", description: "Print the report as JSON on stdout" })
      .example("rosetta inspect model.gguf", "config, tensors and layout verdicts")
      .example("rosetta inspect model.apr --json --quiet", "machine-readable report only")
      .epilogue("Exit codes: 0 ok, 2 bad input or usage, 3 internal error."),
  handler: async (args) => {
    const m = await loadModel(args.model);
    if (args.json) process.stdout.write(JSON.stringify(inspectReport(m), null, 2) + "\n");
    else printText(m);
  },
};
