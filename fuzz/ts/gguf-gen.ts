/**
 * Structure-aware GGUF headers for fuzzing (fast-check): a header whose every count, length, dim, type and
 * offset is either what the bytes really hold or a hostile value (2^32, 2^63, a dim product that
 * overflows 64 bits, an offset past the end), so the generator reaches the checks behind the magic and the
 * version instead of dying on them as random bytes would.
 */
import fc from "fast-check";

/** Values that break arithmetic: 32/53/63/64-bit edges and small numbers. */
export const hostileU64 = fc.oneof(
  { weight: 3, arbitrary: fc.bigInt({ min: 0n, max: 70n }) },
  { weight: 2, arbitrary: fc.constantFrom(0xffffffffn, 0x100000000n, 1n << 40n, (1n << 53n) + 1n, 1n << 62n, (1n << 63n) - 1n, 1n << 63n, (1n << 64n) - 1n) },
  { weight: 1, arbitrary: fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }) },
);

const KEYS = [
  "general.architecture", "general.alignment", "general.name", "llama.block_count", "llama.context_length",
  "llama.embedding_length", "llama.feed_forward_length", "llama.attention.head_count", "llama.attention.head_count_kv",
  "llama.attention.layer_norm_rms_epsilon", "llama.rope.freq_base", "llama.rope.dimension_count", "llama.vocab_size",
  "tokenizer.ggml.model", "tokenizer.ggml.tokens", "tokenizer.ggml.scores", "tokenizer.ggml.token_type",
  "tokenizer.ggml.merges", "tokenizer.ggml.bos_token_id", "tokenizer.ggml.eos_token_id", "tokenizer.ggml.add_bos_token",
  "tokenizer.ggml.pre", "general.file_type",
];
const TENSORS = ["token_embd.weight", "output_norm.weight", "output.weight", "blk.0.attn_q.weight", "blk.0.attn_k.weight",
  "blk.0.attn_v.weight", "blk.0.attn_output.weight", "blk.0.attn_norm.weight", "blk.0.ffn_gate.weight", "blk.0.ffn_up.weight",
  "blk.0.ffn_down.weight", "blk.0.ffn_norm.weight"];

/** Little-endian GGUF fields in order (also used by the hostile-header and regression tests). */
export class Bytes {
  parts: Buffer[] = [];
  u32(v: number | bigint) { const b = Buffer.alloc(4); b.writeUInt32LE(Number(BigInt.asUintN(32, BigInt(v)))); this.parts.push(b); return this; }
  u64(v: number | bigint) { const b = Buffer.alloc(8); b.writeBigUInt64LE(BigInt.asUintN(64, BigInt(v))); this.parts.push(b); return this; }
  /** A GGUF string: its length (or a claimed one), then its bytes. */
  str(s: string, claimed?: bigint) { const b = Buffer.from(s, "utf8"); this.u64(claimed ?? BigInt(b.length)); this.parts.push(b); return this; }
  raw(b: Buffer) { this.parts.push(b); return this; }
  get length() { return this.parts.reduce((a, p) => a + p.length, 0); }
  done() { return Buffer.concat(this.parts); }
}

/** An encoded value: its GGUF type and a writer of its bytes (claims decided when generated). */
interface Val { type: number; write(b: Bytes): void }

const str = fc.tuple(fc.oneof(fc.constantFrom(...KEYS, "llama", "gpt2", "qwen2", ""), fc.string({ maxLength: 12 })), fc.option(hostileU64, { freq: 6 }))
  .map(([s, bad]) => (b: Bytes) => { b.str(s, bad ?? undefined); });

const SCALAR_SIZE: Record<number, number> = { 0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8 };

const scalar: fc.Arbitrary<Val> = fc.tuple(fc.constantFrom(0, 1, 2, 3, 4, 5, 6, 7, 10, 11, 12), hostileU64).map(([type, v]) => ({
  type,
  write(b: Bytes) {
    const buf = Buffer.alloc(8);
    buf.writeBigUInt64LE(v);
    b.raw(buf.subarray(0, SCALAR_SIZE[type]));
  },
}));

const value: fc.Arbitrary<Val> = fc.letrec<{ v: Val }>((tie) => ({
  v: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    scalar,
    str.map((w) => ({ type: 8, write: w })),
    fc.tuple(fc.array(tie("v"), { maxLength: 6 }), fc.option(hostileU64, { freq: 5 }), fc.option(fc.integer({ min: 0, max: 14 }), { freq: 5 }))
      .map(([items, badCount, badType]) => ({
        type: 9,
        write(b: Bytes) {
          const t = badType ?? (items[0]?.type ?? 4);
          b.u32(t);
          b.u64(badCount ?? BigInt(items.length));
          for (const it of items) if (it.type === t || badType !== null) it.write(b);
        },
      })),
    // deep nesting: an array of arrays of arrays ... (a recursive reader must not overflow its stack)
    fc.integer({ min: 1, max: 100_000 }).map((depth) => ({
      type: 9,
      write(b: Bytes) {
        const one = Buffer.alloc(12);
        one.writeUInt32LE(9, 0);
        one.writeBigUInt64LE(1n, 4);
        b.raw(Buffer.alloc(12 * (depth - 1), one)); // depth-1 nested "array of 1 array" headers
        b.u32(4);
        b.u64(0n);
      },
    })),
  ),
})).v;

const tensorInfo = fc.record({
  name: fc.oneof(fc.constantFrom(...TENSORS), fc.string({ maxLength: 8 })),
  nDims: fc.oneof({ weight: 4, arbitrary: fc.constant(-1) }, { weight: 1, arbitrary: fc.integer({ min: 0, max: 9 }) }),
  dims: fc.array(fc.oneof({ weight: 3, arbitrary: fc.constantFrom(1n, 8n, 32n, 64n, 256n) }, { weight: 1, arbitrary: hostileU64 }), { minLength: 1, maxLength: 4 }),
  type: fc.oneof({ weight: 4, arbitrary: fc.constantFrom(0, 1, 2, 8, 12, 14) }, { weight: 1, arbitrary: fc.integer({ min: 0, max: 300 }) }),
  offset: fc.oneof({ weight: 3, arbitrary: fc.constantFrom(0n, 32n, 64n, 1024n) }, { weight: 1, arbitrary: hostileU64 }),
});

export interface GgufCase { bytes: Buffer; sparseTo: number }

/** A whole GGUF file: header, KVs, tensor infos, padding, data; sparseTo > 0 extends it with a hole. */
export const ggufFile: fc.Arbitrary<GgufCase> = fc
  .record({
    magic: fc.oneof({ weight: 9, arbitrary: fc.constant("GGUF") }, { weight: 1, arbitrary: fc.constantFrom("GGUG", "FUGG", "GGU") }),
    version: fc.oneof({ weight: 6, arbitrary: fc.constant(3) }, { weight: 1, arbitrary: fc.constantFrom(1, 2, 4, 0xffffffff) }),
    kvs: fc.array(fc.tuple(str, value), { maxLength: 8 }),
    tensors: fc.array(tensorInfo, { maxLength: 5 }),
    nKvBad: fc.option(hostileU64, { freq: 6 }),
    nTensorsBad: fc.option(hostileU64, { freq: 6 }),
    data: fc.uint8Array({ maxLength: 512 }),
    sparse: fc.oneof({ weight: 3, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.integer({ min: 1, max: 1 << 24 }) }),
  })
  .map((c) => {
    const b = new Bytes();
    b.raw(Buffer.from(c.magic, "latin1"));
    b.u32(c.version);
    b.u64(c.nTensorsBad ?? BigInt(c.tensors.length));
    b.u64(c.nKvBad ?? BigInt(c.kvs.length));
    for (const [key, v] of c.kvs) {
      key(b);
      b.u32(v.type);
      v.write(b);
    }
    for (const t of c.tensors) {
      b.str(t.name);
      b.u32(t.nDims < 0 ? t.dims.length : t.nDims);
      for (const d of t.dims) b.u64(d);
      b.u32(t.type);
      b.u64(t.offset);
    }
    const pad = (32 - (b.length % 32)) % 32;
    b.raw(Buffer.alloc(pad));
    b.raw(Buffer.from(c.data));
    const bytes = b.done();
    return { bytes, sparseTo: c.sparse ? bytes.length + c.sparse : 0 };
  });
