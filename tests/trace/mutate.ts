/**
 * Mutations of a saved trace for the fuzz (trace.fuzz.test.ts): structural edits of the parsed JSON,
 * raw text edits, and safetensors edits (header length, header JSON, data). Each returns a short
 * description that the fuzz prints with the seed when a case fails.
 */
import { randInt } from "../helpers/rng.js";

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
type Slot = { parent: Json[] | { [k: string]: Json }; key: string | number; path: string };

// Sentinels replaced in the text after serialization: values JSON.stringify cannot write.
const INF = "\u0000INF", NINF = "\u0000NINF", NAN = "\u0000NAN", DEEP = "\u0000DEEP";
const VALUES: Json[] = [null, -1, 0, 1, 0.5, 1e308, -1e308, 2 ** 53, 1e-320, "x", "NaN", "", [], {}, true, INF, NINF, NAN, [0], [1, 1], { count: 1 }];
const KEYS = ["failed", "numerics", "tensor", "layer", "step", "tokens", "firstPos", "shape", "fileType", "arch", "nLayer", "nEmbd", "ropeScaling", "__proto__", "constructor", "tensors", "logits", "version", "source", "generated"];

function slots(root: Json, at = "", out: Slot[] = []): Slot[] {
  if (Array.isArray(root)) root.forEach((v, i) => (out.push({ parent: root, key: i, path: `${at}[${i}]` }), slots(v, `${at}[${i}]`, out)));
  else if (root && typeof root === "object") for (const k of Object.keys(root)) (out.push({ parent: root, key: k, path: `${at}.${k}` }), slots(root[k], `${at}.${k}`, out));
  return out;
}

function pick<T>(r: () => number, xs: readonly T[]): T {
  return xs[randInt(r, xs.length)];
}

function get(s: Slot): Json {
  return (s.parent as Record<string | number, Json>)[s.key];
}
function set(s: Slot, v: Json): void {
  (s.parent as Record<string | number, Json>)[s.key] = v;
}

/** One structural edit; slots under points/logits/input are preferred (what the comparator reads). */
function editOnce(root: { [k: string]: Json }, r: () => number): string {
  const all = slots(root);
  const hot = all.filter((s) => /^\.(points|input|logits|tensors)/.test(s.path) && !/\.source/.test(s.path));
  // the header fields the comparator reads too: config (diffed field by field), settings, file type
  const head = all.filter((s) => /^\.(model\.(config|fileType|arch)|engine)/.test(s.path));
  const u = r();
  const s = u < 0.6 && hot.length ? pick(r, hot) : u < 0.85 && head.length ? pick(r, head) : pick(r, all);
  const v = get(s);
  const op = randInt(r, 9);
  if (op === 0 && !Array.isArray(s.parent)) {
    delete (s.parent as Record<string, Json>)[s.key as string];
    return `delete ${s.path}`;
  }
  if (op === 1 && typeof v === "number") {
    const nv = pick(r, [v + 1, v - 1, -v, v * 2, v * (1 + 1e-3), 0, v === 0 ? 1 : v / 2, Math.fround(v * 1.0000001)]);
    set(s, nv);
    return `${s.path}: ${v} -> ${nv}`;
  }
  if (op === 2 && Array.isArray(v) && v.length > 1) {
    const i = randInt(r, v.length), j = randInt(r, v.length);
    [v[i], v[j]] = [v[j], v[i]];
    return `swap ${s.path}[${i}] and [${j}]`;
  }
  if (op === 3 && Array.isArray(v) && v.length > 0) {
    const i = randInt(r, v.length);
    v.splice(randInt(r, v.length + 1), 0, JSON.parse(JSON.stringify(v[i])) as Json);
    return `duplicate ${s.path}[${i}]`;
  }
  if (op === 4 && Array.isArray(v)) {
    v.length = randInt(r, v.length + 1);
    return `truncate ${s.path} to ${v.length}`;
  }
  if (op === 5) {
    const n = pick(r, [1000, 100_000]);
    set(s, new Array<Json>(n).fill(pick(r, [0, 1, 1e308, "x"])));
    return `${s.path} = huge array of ${n}`;
  }
  if (op === 6 && v && typeof v === "object" && !Array.isArray(v)) {
    const k = pick(r, KEYS), nv = pick(r, VALUES);
    v[k] = nv;
    return `add ${s.path}.${k} = ${JSON.stringify(nv)}`;
  }
  if (op === 7) {
    set(s, DEEP);
    return `${s.path} = 5000-deep array`;
  }
  const nv = pick(r, VALUES);
  set(s, nv);
  return `${s.path} = ${JSON.stringify(nv)}`;
}

/** Swaps the data of two points of the same shape (a valid-looking trace whose values moved). */
function swapPoints(root: { [k: string]: Json }, r: () => number): string {
  if (!Array.isArray(root.points)) return "no swap";
  const pts = root.points.filter((p) => p && typeof p === "object" && !Array.isArray(p)) as { [k: string]: Json }[];
  if (!pts.length) return "no swap";
  const i = randInt(r, pts.length);
  const same = pts.filter((p) => JSON.stringify(p.shape) === JSON.stringify(pts[i].shape) && p !== pts[i]);
  if (!same.length) return "no swap";
  const j = pts.indexOf(pick(r, same));
  const field = pick(r, ["all", "last", "tensor", "*"]);
  for (const f of field === "*" ? ["all", "last", "tensor"] : [field]) [pts[i][f], pts[j][f]] = [pts[j][f], pts[i][f]];
  return `swap ${field} of points[${i}] and points[${j}]`;
}

export function mutateJson(text: string, r: () => number): { text: string; desc: string } {
  const root = JSON.parse(text) as { [k: string]: Json };
  const n = 1 + (r() < 0.3 ? randInt(r, 4) : 0);
  const descs: string[] = [];
  for (let i = 0; i < n; i++) descs.push(r() < 0.15 ? swapPoints(root, r) : editOnce(root, r));
  let out = JSON.stringify(root);
  out = out.replaceAll(`"\\u0000INF"`, "1e999").replaceAll(`"\\u0000NINF"`, "-1e999").replaceAll(`"\\u0000NAN"`, "NaN");
  out = out.replaceAll(`"\\u0000DEEP"`, "[".repeat(5000) + "0" + "]".repeat(5000));
  if (r() < 0.1) {
    // a duplicate key: JSON.parse keeps the last one
    const at = out.indexOf('"points"');
    out = out.slice(0, at) + `"points":[],` + out.slice(at);
    descs.push("duplicate key points (first empty)");
  }
  return { text: out, desc: descs.join("; ") };
}

export function mutateText(text: string, r: () => number): { text: string; desc: string } {
  const k = randInt(r, 3);
  if (k === 0) {
    const n = randInt(r, text.length);
    return { text: text.slice(0, n), desc: `truncate text to ${n}` };
  }
  const b = Buffer.from(text);
  if (k === 1) {
    const descs: string[] = [];
    for (let i = 0, n = 1 + randInt(r, 6); i < n; i++) {
      const at = randInt(r, b.length);
      b[at] = randInt(r, 256);
      descs.push(`byte ${at} = ${b[at]}`);
    }
    return { text: b.toString("latin1"), desc: descs.join(", ") };
  }
  const at = randInt(r, b.length);
  const ins = pick(r, ["{", "}", '"', "[", "null", "\\", "9e999", ",", "-", "0"]);
  return { text: text.slice(0, at) + ins + text.slice(at), desc: `insert ${ins} at ${at}` };
}

function encodeHeader(h: unknown, data: Buffer, pad = true): Buffer {
  let json = JSON.stringify(h);
  if (pad) json += " ".repeat((8 - ((8 + Buffer.byteLength(json)) % 8)) % 8);
  const head = Buffer.from(json);
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(head.length));
  return Buffer.concat([len, head, data]);
}

const EXTREMES = [0n, 1n, 7n, 0x7fffffffn, 0xffffffffn, 1n << 53n, (1n << 64n) - 1n];
const FLOATS = [NaN, Infinity, -Infinity, 1e30, -1e30, 0, -0, 3.4e38, 1e-45];

export function mutateSafetensors(buf: Buffer, r: () => number): { buf: Buffer; desc: string } {
  const n = Number(buf.readBigUInt64LE(0));
  const header = JSON.parse(buf.subarray(8, 8 + n).toString()) as Record<string, { dtype: string; shape: number[]; data_offsets: number[] }>;
  const data = buf.subarray(8 + n);
  const names = Object.keys(header).filter((k) => k !== "__metadata__");
  const name = pick(r, names);
  const e = header[name];
  const k = randInt(r, 8);
  if (k === 0) {
    const b = Buffer.from(buf);
    const v = pick(r, EXTREMES);
    b.writeBigUInt64LE(v, 0);
    return { buf: b, desc: `header length ${v}` };
  }
  if (k === 1) {
    const at = randInt(r, buf.length);
    return { buf: buf.subarray(0, at), desc: `truncate to ${at}` };
  }
  if (k === 2) {
    const b = Buffer.from(buf);
    const at = 8 + randInt(r, n);
    b[at] = randInt(r, 256);
    return { buf: b, desc: `header byte ${at} = ${b[at]}` };
  }
  if (k === 3 || k === 4) {
    // data: one float set to a special value, or a random byte (often a tiny change)
    const b = Buffer.from(buf);
    const at = 8 + n + 4 * randInt(r, data.length / 4);
    if (k === 3) {
      const f = pick(r, FLOATS);
      b.writeFloatLE(f, at);
      return { buf: b, desc: `float at ${at} = ${f}` };
    }
    const bi = at + randInt(r, 4);
    b[bi] = randInt(r, 256);
    return { buf: b, desc: `data byte ${bi} = ${b[bi]}` };
  }
  // header JSON edits, re-encoded with a correct length
  const other = header[pick(r, names)];
  const edits: [string, () => void][] = [
    ["dtype F16", () => (e.dtype = "F16")],
    ["dtype missing", () => delete (e as Partial<typeof e>).dtype],
    ["shape +1", () => (e.shape = e.shape.map((d, i) => (i === 0 ? d + 1 : d)))],
    ["shape reversed", () => e.shape.reverse()],
    ["shape [count]", () => (e.shape = [e.shape.reduce((a, d) => a * d, 1)])],
    ["shape negative", () => (e.shape = [-1, ...e.shape])],
    ["offsets of another tensor", () => (e.data_offsets = [...other.data_offsets])],
    ["swap offsets", () => ([e.data_offsets, other.data_offsets] = [other.data_offsets, e.data_offsets])],
    ["offsets negative", () => (e.data_offsets = [-4, e.data_offsets[1]])],
    ["offsets huge", () => (e.data_offsets = [e.data_offsets[0], 1e300])],
    ["offsets shifted", () => (e.data_offsets = e.data_offsets.map((x) => x + 4))],
    ["offsets float", () => (e.data_offsets = [e.data_offsets[0] + 0.5, e.data_offsets[1] + 0.5])],
    ["entry null", () => ((header as Record<string, unknown>)[name] = null)],
    ["delete tensor", () => delete header[name]],
    ["rename tensor", () => ((header[name + "x"] = e), delete header[name])],
    ["metadata number", () => ((header as Record<string, unknown>).__metadata__ = 5)],
    ["metadata nested", () => ((header as Record<string, unknown>).__metadata__ = { format: { x: 1 } })],
  ];
  const [desc, edit] = pick(r, edits);
  edit();
  return { buf: encodeHeader(header, data, r() < 0.8), desc: `header ${name}: ${desc}` };
}
