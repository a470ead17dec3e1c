/**
 * A strict, fast reader of a GGUF file's key/value section (moved here from src/tokenizer/gguf.ts, which
 * uses it for the tokenizer keys): @huggingface/gguf builds a TextDecoder per string, which costs seconds
 * on a 128k-token vocabulary with 280k merges, and it reads a short file's missing bytes as zeros. Values
 * have the shapes tokenizerSpecFromGgufMetadata accepts (numeric arrays as typed arrays, 64-bit integers
 * as bigint).
 */
import { closeSync, fstatSync, openSync, readSync } from "node:fs";

import { InputError, UnsupportedError } from "../util/errors.js";

type Metadata = Record<string, unknown>;

/**
 * Reads the keys `wanted` selects of a local GGUF file's metadata; every other key is skipped without
 * decoding, but still checked: every count and length against the bytes left in the file before anything
 * is sized by it, arrays of arrays at most MAX_NESTING deep. With `() => false` it is the strict check of
 * the whole metadata section that readGgufFile runs before @huggingface/gguf parses it.
 */
export function readGgufKvs(path: string, wanted: (key: string) => boolean): Metadata {
  let fd: number;
  try {
    fd = openSync(path, "r");
  } catch (e) {
    throw new InputError(`${path}: cannot open (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  try {
    return new GgufKvReader(fd, fstatSync(fd).size, path).read(wanted);
  } finally {
    closeSync(fd);
  }
}

/** Deepest array-of-arrays nesting read (llama.cpp reads none; @huggingface/gguf stops at 4). */
const MAX_NESTING = 4;
const ELEM_SIZE = [1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8]; // by GGUF value type; 0 = variable
const utf8 = new TextDecoder("utf-8");

class GgufKvReader {
  private buf = Buffer.alloc(1 << 20);
  private base = 0; // file offset of buf[0]
  private pos = 0; // read position in buf
  private end = 0; // valid bytes in buf

  constructor(
    private readonly fd: number,
    private readonly size: number,
    private readonly path: string,
  ) {}

  read(wanted: (key: string) => boolean): Metadata {
    this.need(24);
    if (this.buf.toString("latin1", 0, 4) !== "GGUF") throw this.bad("not a GGUF file");
    const version = this.buf.readUInt32LE(4);
    if (version === 1) throw new UnsupportedError(`${this.path}: GGUF v1 is not supported (re-convert the model with a current llama.cpp to get v3)`);
    if (version !== 2 && version !== 3) throw new UnsupportedError(`${this.path}: GGUF version ${version} is not supported (2 and 3 are)`);
    this.pos = 16;
    const nKv = this.u64();
    const out: Metadata = {};
    for (let i = 0; i < nKv; i++) {
      const key = this.str();
      const type = this.u32();
      if (wanted(key)) out[key] = this.value(type);
      else this.skip(type);
    }
    return out;
  }

  private bad(what: string): InputError {
    return new InputError(`${this.path}: cannot read GGUF metadata: ${what}`);
  }

  /** Makes n bytes readable at pos, reading on from the file. */
  private need(n: number): void {
    if (this.end - this.pos >= n) return;
    if (this.base + this.pos + n > this.size) throw this.bad("the file is truncated or corrupt (metadata runs past its end)");
    const keep = this.end - this.pos;
    if (n > this.buf.length) {
      const grown = Buffer.alloc(Math.max(n, this.buf.length * 2));
      this.buf.copy(grown, 0, this.pos, this.end);
      this.buf = grown;
    } else this.buf.copy(this.buf, 0, this.pos, this.end);
    this.base += this.pos;
    this.pos = 0;
    this.end = keep;
    while (this.end < n) {
      const got = readSync(this.fd, this.buf, this.end, this.buf.length - this.end, this.base + this.end);
      if (got <= 0) throw this.bad("unexpected end of file");
      this.end += got;
    }
  }

  private u32(): number {
    this.need(4);
    const v = this.buf.readUInt32LE(this.pos);
    this.pos += 4;
    return v;
  }

  private u64(): number {
    this.need(8);
    const v = this.buf.readBigUInt64LE(this.pos);
    this.pos += 8;
    if (v > BigInt(this.size)) throw this.bad(`a count or length of ${v} is impossible in a ${this.size}-byte file`);
    return Number(v);
  }

  private str(): string {
    const n = this.u64();
    this.need(n);
    const { buf, pos } = this;
    this.pos += n;
    let ascii = true;
    for (let i = pos; i < pos + n; i++) {
      if (buf[i] >= 0x80) {
        ascii = false;
        break;
      }
    }
    return ascii ? buf.toString("latin1", pos, pos + n) : utf8.decode(buf.subarray(pos, pos + n));
  }

  private value(type: number): unknown {
    if (type === 8) return this.str();
    if (type === 9) return this.array();
    const size = ELEM_SIZE[type];
    if (!size) throw this.bad(`unknown value type ${type}`);
    this.need(size);
    const v = this.scalar(type, this.pos);
    this.pos += size;
    return v;
  }

  private scalar(type: number, p: number): number | bigint | boolean {
    const b = this.buf;
    switch (type) {
      case 0: return b.readUInt8(p);
      case 1: return b.readInt8(p);
      case 2: return b.readUInt16LE(p);
      case 3: return b.readInt16LE(p);
      case 4: return b.readUInt32LE(p);
      case 5: return b.readInt32LE(p);
      case 6: return b.readFloatLE(p);
      case 7: return b.readUInt8(p) !== 0;
      case 10: return b.readBigUInt64LE(p);
      case 11: return b.readBigInt64LE(p);
      default: return b.readDoubleLE(p);
    }
  }

  /** Refuses n strings that cannot fit in the rest of the file (8 length bytes each) before any is read. */
  private fits(n: number, each: number): void {
    const left = this.size - (this.base + this.pos);
    if (n * each > left) throw this.bad(`an array of ${n} values needs at least ${n * each} bytes, ${left} are left in the file`);
  }

  private array(): unknown[] | ArrayLike<number> {
    const type = this.u32();
    const n = this.u64();
    if (type === 8) {
      this.fits(n, 8);
      return Array.from({ length: n }, () => this.str());
    }
    const size = ELEM_SIZE[type];
    if (!size) throw this.bad(`unsupported array element type ${type}`);
    this.need(n * size);
    const p = this.pos;
    this.pos += n * size;
    if (type === 6) return new Float32Array(this.buf.buffer.slice(this.buf.byteOffset + p, this.buf.byteOffset + p + n * 4));
    if (type === 5) return new Int32Array(this.buf.buffer.slice(this.buf.byteOffset + p, this.buf.byteOffset + p + n * 4));
    return Array.from({ length: n }, (_, i) => this.scalar(type, p + i * size)) as unknown[];
  }

  /** Skips a value; arrays of arrays nest at most MAX_NESTING deep (a hostile file nests them 100,000 deep). */
  private skip(type: number, depth = 0): void {
    if (type === 8) {
      const n = this.u64();
      this.need(n);
      this.pos += n;
    } else if (type === 9) {
      const et = this.u32();
      const n = this.u64();
      if (et === 9 && depth >= MAX_NESTING) throw this.bad(`arrays nested more than ${MAX_NESTING} deep`);
      if (et === 8 || et === 9) this.fits(n, et === 8 ? 8 : 12);
      if (et === 8 || et === 9) for (let i = 0; i < n; i++) this.skip(et, depth + 1);
      else {
        const size = ELEM_SIZE[et];
        if (!size) throw this.bad(`unknown array element type ${et}`);
        this.need(n * size);
        this.pos += n * size;
      }
    } else {
      const size = ELEM_SIZE[type];
      if (!size) throw this.bad(`unknown value type ${type}`);
      this.need(size);
      this.pos += size;
    }
  }
}
