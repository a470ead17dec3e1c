/**
 * `rosetta inspect <model>`: reads any valid GGUF or APR v2 file, whatever its architecture. It prints the
 * container, its checksums, the metadata and every tensor (name, role, dims in the file's own order and
 * as row-major [out, in], dtype, bytes, layout verdict); the config when the file is a llama-family model;
 * and a line "not runnable by the engine: <why>" when the engine cannot run it (exit 0 all the same; only
 * a file that is not a valid container is refused). The load-time layout log goes to stderr as on every
 * load; `--json` prints the whole report on stdout.
 */
import type { CommandModule } from "yargs";

import { showMeta } from "../../compare/format.js";
import { inspectModel, type InspectedModel } from "../../formats/index.js";

export interface InspectArgs {
  model: string;
  json?: boolean;
}

/** A metadata value shortened for a listing: long strings cut, long arrays as their length and first items. */
function metaSummary(v: unknown): unknown {
  if (typeof v === "bigint") return Number(v);
  if (typeof v === "string") return v.length > 120 ? `${v.slice(0, 117)}...` : v;
  if (Array.isArray(v)) return v.length > 8 ? `[${v.length} items: ${v.slice(0, 4).map((x) => showMeta(metaSummary(x))).join(", ")}, ...]` : v.map(metaSummary);
  if (v !== null && typeof v === "object") return Object.keys(v).length > 8 ? `{${Object.keys(v).length} keys}` : Object.fromEntries(Object.entries(v).map(([k, x]) => [k, metaSummary(x)]));
  return v;
}

/** The same, as text: arrays unquoted (`[512 items: "<unk>", "<s>", ...]`), scalars as JSON. */
function metaText(v: unknown): string {
  if (Array.isArray(v)) {
    const items = v.slice(0, 8).map((x) => metaText(x));
    return v.length > 8 ? `[${v.length} items: ${items.slice(0, 4).join(", ")}, ...]` : `[${items.join(", ")}]`;
  }
  return showMeta(metaSummary(v));
}

export function inspectReport(r: InspectedModel) {
  const m = r.model;
  const verdicts = new Map((m?.layout ?? []).map((c) => [c.name, c]));
  return {
    file: r.file.path,
    format: r.file.format,
    container: r.file.container,
    fileSize: r.file.fileSize,
    architecture: m?.config.arch ?? r.file.archName,
    runnable: r.notRunnable === null,
    notRunnable: r.notRunnable,
    checksums: r.file.checksums,
    config: m?.config ?? null,
    metadata: Object.fromEntries(Object.entries(r.file.metadata).map(([k, v]) => [k, metaSummary(v)])),
    tensors: (m?.tensors ?? r.file.tensors).map((t) => ({
      name: t.name,
      role: verdicts.get(t.name)?.key ?? (t.role ? (t.layer === null ? t.role : `blk.${t.layer}.${t.role}`) : null),
      fileDims: t.fileDims,
      dims: t.dims,
      expected: verdicts.get(t.name)?.expected ?? null,
      dtype: t.typeName,
      bytes: t.byteLength,
      verdict: m ? (verdicts.get(t.name)?.verdict ?? "UNUSED") : "-",
    })),
  };
}

function table(rows: string[][]): string {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  return rows.map((r) => r.map((c, i) => c.padEnd(widths[i])).join("  ").trimEnd()).join("\n");
}

function printText(i: InspectedModel): void {
  const r = inspectReport(i);
  const lines = [`${i.file.path}  (${i.file.container}, ${i.file.fileSize} bytes)`];
  const c = i.model?.config;
  if (c) {
    lines.push(
      `arch ${c.arch}: ${c.nLayer} layers, n_embd ${c.nEmbd}, heads ${c.nHead} (kv ${c.nHeadKv}, head_dim ${c.headDim}), ffn ${c.nFf}, vocab ${c.nVocab}`,
      `rope: ${c.ropeLayout}, base ${c.ropeBase}, dims ${c.ropeDim}, scaling ${c.ropeScaling.type}; rms eps ${showMeta(c.rmsEps)}; ` +
        `tied embeddings ${c.tiedEmbeddings ? "yes" : "no"}; qkv bias ${c.qkvBias ? "yes" : "no"}; q/k norm ${c.qkNorm ? "yes" : "no"}; ctx ${c.nCtxTrain}`,
    );
  } else {
    lines.push(`architecture: ${i.file.archName ?? "(none named)"}`);
  }
  if (i.notRunnable) lines.push(`not runnable by the engine: ${i.notRunnable}`);
  lines.push(`checksums: ${i.file.checksums.join("; ")}`);
  lines.push(`metadata (${Object.keys(r.metadata).length} keys):`);
  for (const [k, v] of Object.entries(i.file.metadata)) lines.push(`  ${k} = ${metaText(v)}`);
  lines.push(`tensors (${r.tensors.length}):`, "");
  const fmt = (d: number[] | null) => (d ? `[${d.join(", ")}]` : "-");
  const rows = [["name", "role", "file dims", "row-major", "expected", "dtype", "bytes", "layout"]];
  for (const t of r.tensors) rows.push([t.name, t.role ?? "-", fmt(t.fileDims), fmt(t.dims), fmt(t.expected), t.dtype, String(t.bytes), t.verdict]);
  process.stdout.write(lines.join("\n") + "\n" + table(rows) + "\n");
}

export const inspectCommand: CommandModule<object, InspectArgs> = {
  command: "inspect <model>",
  describe: "Show any GGUF / APR v2 file or Hugging Face folder: metadata, checksums, tensor table with layout verdicts, config if the engine runs it",
  builder: (y) =>
    y
      .positional("model", { type: "string", demandOption: true, description: "GGUF or APR model file, or Hugging Face folder" })
      .option("json", { type: "boolean", description: "Print the report as JSON on stdout" })
      .example("rosetta inspect model.gguf", "config, tensors and layout verdicts")
      .example("rosetta inspect model.apr --json --quiet", "machine-readable report only")
      .epilogue(
        "A valid file of an architecture the engine does not run is listed with a line 'not runnable by the engine: <why>' (exit 0).\n" +
          "Exit codes: 0 ok, 2 bad input or usage, 3 internal error.",
      ),
  handler: async (args) => {
    const r = await inspectModel(args.model);
    if (args.json) process.stdout.write(JSON.stringify(inspectReport(r), null, 2) + "\n");
    else printText(r);
  },
};
