/**
 * APR v2 loading (aprender's `.apr`, spec in ../shared/docs/apr-format.md) in two steps. readAprFile
 * parses the container of any APR v2 file (a linear model as well as a transformer): header, metadata
 * and index through apr-reader.ts, the footer CRC when present, a TensorView per entry. aprModel derives
 * the llama-family model: TensorViews by canonical role (Hugging Face and GGUF names both map through
 * roleOfName; a legacy fused qkv_proj is split by rows into Q, K, V), the config from the metadata, the
 * architecture's tensors (architectures.ts) and the same always-on layout log as GGUF. Tensor bytes stay
 * in the file.
 */
import { open, stat } from "node:fs/promises";
import type { FileHandle } from "node:fs/promises";

import { InputError } from "../util/errors.js";
import { cachedFileDigest, streamFile } from "../util/file-digest.js";
import { logger } from "../util/log.js";
import { crc32 } from "./apr-crc.js";
import { flatBytes, TYPE, TYPE_NAMES } from "./apr-dtypes.js";
import { aprArchNames, configFromApr } from "./apr-metadata.js";
import { checkModelTensors } from "./architectures.js";
import { APR_HEADER_BYTES, parseAprPrefix, parseHeader, type AprEntry, type AprParsed } from "./apr-reader.js";
import type { LoadOptions } from "./gguf.js";
import { checkLayout, logLayout } from "./layout.js";
import type { LoadedModel, ModelConfig, ModelFile, TensorView } from "./model.js";
import { roleOfName } from "./roles.js";

const FUSED_QKV = /^(?:model\.)?layers\.(\d+)\.self_attn\.qkv_proj\.(weight|bias)$/;

async function readAt(fh: FileHandle, pos: number, len: number): Promise<Buffer> {
  const b = Buffer.alloc(len);
  const { bytesRead } = await fh.read(b, 0, len, pos);
  return b.subarray(0, bytesRead);
}

const align64 = (x: number) => Math.ceil(x / 64) * 64; // not bitwise: offsets pass 2^31 in large files

/**
 * Footer present iff the file ends 4 bytes after the last padded tensor (aprender writers); then it must
 * verify. The CRC is a pass over the whole file: it is computed once, streamed, and the verified value is
 * cached by the file's identity (../util/file-digest.ts), so loading the same file again costs a stat.
 */
async function checkFooter(fh: FileHandle, p: AprParsed, fileSize: number, file: string): Promise<"absent" | number> {
  const end = p.entries.reduce((m, e) => Math.max(m, e.offset + align64(e.size)), 0);
  if (fileSize !== p.dataOffset + end + 4) return "absent";
  const stored = (await readAt(fh, fileSize - 4, 4)).readUInt32LE(0);
  const { value } = cachedFileDigest(file, "apr-footer-crc32", () => {
    let crc = 0;
    streamFile(file, (c) => (crc = crc32(c, crc)), fileSize - 4);
    return String(crc);
  });
  const crc = Number(value);
  if (crc !== stored) {
    throw new InputError(`${file}: APR footer checksum mismatch (stored 0x${stored.toString(16).padStart(8, "0")}, computed 0x${crc.toString(16).padStart(8, "0")}); the tensor data is corrupt`);
  }
  return stored;
}

function view(e: AprEntry, dataOffset: number): TensorView {
  const ref = roleOfName(e.name);
  const v: TensorView = {
    name: e.name,
    role: ref?.role ?? null,
    layer: ref?.layer ?? null,
    fileDims: [...e.dims],
    dims: [...e.dims],
    type: e.type,
    typeName: TYPE_NAMES[e.type],
    offset: dataOffset + e.offset,
    byteLength: e.size,
  };
  if (e.rowBytes !== undefined) v.rowBytes = e.rowBytes;
  return v;
}

/** Split a fused Q‖K‖V tensor (rows of Q, then K, then V) into three views over the same bytes. */
function splitQkv(v: TensorView, layer: number, bias: boolean, c: ModelConfig, file: string): TensorView[] {
  const q = c.nHead * c.headDim;
  const kv = c.nHeadKv * c.headDim;
  const rows = v.dims[0];
  if (rows !== q + 2 * kv || v.dims.length !== (bias ? 1 : 2)) {
    throw new InputError(`${file}: fused ${v.name} has dims [${v.dims.join(", ")}], expected ${bias ? `[${q + 2 * kv}]` : `[${q + 2 * kv}, ${c.nEmbd}]`} (Q ${q} + K ${kv} + V ${kv} rows)`);
  }
  if (v.type === TYPE.APR_Q8) throw new InputError(`${file}: fused ${v.name} is APR_Q8 (one scale for the whole tensor) and cannot be split into Q, K, V`);
  const cols = bias ? 1 : v.dims[1];
  const rowBytes = v.rowBytes ?? Number(flatBytes(v.type, BigInt(cols)));
  if (rowBytes * rows !== v.byteLength) throw new InputError(`${file}: fused ${v.name} rows are not byte-aligned for ${v.typeName} (cannot split by rows)`);
  const parts: [string, number][] = [["q", q], ["k", kv], ["v", kv]];
  let row = 0;
  return parts.map(([p, n]) => {
    const out: TensorView = {
      ...v,
      name: `${v.name}[${p}]`,
      role: (bias ? `attn_${p}_bias` : `attn_${p}`) as TensorView["role"],
      layer,
      dims: bias ? [n] : [n, cols],
      fileDims: bias ? [n] : [n, cols],
      offset: v.offset + row * rowBytes,
      byteLength: n * rowBytes,
    };
    row += n;
    return out;
  });
}

/** A parsed APR v2 container: any valid file, whatever its model type. */
export interface AprFile extends ModelFile {
  format: "apr";
  parsed: AprParsed;
  footer: "verified" | "absent";
}

/** Parse and validate the container (header CRC, metadata, index, footer CRC); no architecture is assumed. */
export async function readAprFile(path: string): Promise<AprFile> {
  let size: number;
  try {
    size = (await stat(path)).size;
  } catch (e) {
    throw new InputError(`${path}: cannot read file (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
  }
  const fh = await open(path, "r");
  try {
    const head = await readAt(fh, 0, APR_HEADER_BYTES);
    const h = parseHeader(head, size, path);
    const parsed = parseAprPrefix(await readAt(fh, 0, h.dataOffset), size, path);
    const footerCrc = await checkFooter(fh, parsed, size, path);
    const footer = footerCrc === "absent" ? "absent" : "verified";
    const hex = (v: number) => `0x${v.toString(16).padStart(8, "0")}`;
    return {
      path, format: "apr", container: `APR v2 (magic ${parsed.magic}, flags 0x${parsed.flags.toString(16)})`, fileSize: size,
      metadata: parsed.metadata, archName: aprArchNames(parsed.metadata)[0] ?? null,
      tensors: parsed.entries.map((e) => view(e, parsed.dataOffset)),
      checksums: [`header CRC32 ${hex(head.readUInt32LE(40))} verified`, footerCrc === "absent" ? "footer CRC32 absent" : `footer CRC32 ${hex(footerCrc)} verified`],
      parsed, footer,
    };
  } finally {
    await fh.close();
  }
}

export async function loadApr(path: string, opts: LoadOptions = {}): Promise<LoadedModel> {
  return checkModelTensors(aprModel(await readAprFile(path), opts));
}

/**
 * The llama-family model of a parsed APR file: throws UnsupportedError / InputError (one line) when there
 * is none (model type, metadata). The architecture's tensor lists are checked by loadApr.
 */
export function aprModel(f: AprFile, opts: LoadOptions = {}): LoadedModel {
  return build(f.path, f.parsed, f.fileSize, f.footer, opts, logger("apr"));
}

function build(path: string, p: AprParsed, size: number, footer: string, opts: LoadOptions, log: ReturnType<typeof logger>): LoadedModel {
  const plain: TensorView[] = [];
  const fused: { v: TensorView; layer: number; bias: boolean }[] = [];
  for (const e of p.entries) {
    const v = view(e, p.dataOffset);
    const m = FUSED_QKV.exec(e.name);
    if (m) fused.push({ v, layer: Number(m[1]), bias: m[2] === "bias" });
    else plain.push(v);
  }
  const roleDims = new Map<string, number[]>();
  for (const v of plain) if (v.role) roleDims.set(v.layer === null ? v.role : `blk.${v.layer}.${v.role}`, v.dims);
  for (const f of fused) if (f.bias && f.layer === 0) roleDims.set("blk.0.attn_q_bias", []);
  const config = configFromApr(p.metadata, path, roleDims);
  const tensors = [...plain];
  for (const f of fused) tensors.push(...splitQkv(f.v, f.layer, f.bias, config, path));
  const byRole = new Map<string, TensorView>();
  for (const t of tensors) {
    if (!t.role) continue;
    const key = t.layer === null ? t.role : `blk.${t.layer}.${t.role}`;
    // HF and GGUF names for the same role in one file: the HF one wins, as realizar looks it up first.
    if (byRole.has(key) && !t.name.startsWith("model.") && t.name !== "lm_head.weight") continue;
    byRole.set(key, t);
  }
  const layout = checkLayout(tensors, config);
  log.info(
    { file: path, magic: p.magic, flags: `0x${p.flags.toString(16)}`, arch: config.arch, tensors: tensors.length, footer, bytes: size },
    `loaded APR v2 ${config.arch}`,
  );
  if (opts.logLayout !== false) logLayout(path, "apr", layout);
  return { path, format: "apr", config, tensors, byRole, layout, metadata: p.metadata, fileSize: size };
}
