/**
 * Regenerates the committed seed corpora (fuzz/corpus/) from real files: `npm run fuzz:seeds`.
 *
 *   gguf/             the header (everything before the tensor data) of ../shared/models/stories260K.gguf
 *   apr/              the prefix (header, metadata, index) of stories260K converted to APR v2
 *   safetensors/      two real tensors of stories260K (its first embedding rows, its output norm)
 *   trace-json/       a committed llama.cpp trace (traces/stories260K.prompt.json), its first 12 points
 *   importers-text/   the first nodes of llama-eval-callback's dump of stories260K (../shared/fixtures)
 *   importers-json/   aprender's `apr trace --json` and transformers' debugger JSON shapes, filled with
 *                     the summaries of that trace (small: two layers)
 *   native-dequant/   type byte + the first blocks of every tensor type found in the shared models and
 *                     generated fixtures (tests/fixtures/generated/*.gguf), for fuzz/native/dequant.cc
 *   native-matmul/    the same blocks behind matmul.cc's shape bytes
 * Every file stays under 16 KiB.
 */
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";

import { readGgufFile } from "../../src/formats/gguf.js";
import { convertGgufToApr } from "../../src/convert/to-apr.js";
import { encodeSafetensors } from "../../src/trace/safetensors.js";
import { configureLogging } from "../../src/util/log.js";
import { repoRoot } from "./targets.js";

const MAX = 16 * 1024;
const root = repoRoot();
const shared = path.resolve(root, "..", "shared");
const stories = path.join(shared, "models", "stories260K.gguf");
const corpus = path.join(root, "fuzz", "corpus");

function put(dir: string, name: string, b: Buffer | string): void {
  const d = path.join(corpus, dir);
  mkdirSync(d, { recursive: true });
  const buf = typeof b === "string" ? Buffer.from(b, "utf8") : b;
  writeFileSync(path.join(d, name), buf.subarray(0, MAX));
}

async function main(): Promise<void> {
  configureLogging({ quiet: true });
  if (!existsSync(stories)) {
    console.error(`fuzz:seeds needs ${stories} (the shared models)`);
    process.exit(2);
  }
  for (const d of readdirSync(corpus)) rmSync(path.join(corpus, d), { recursive: true, force: true });
  const file = readFileSync(stories);
  const g = await readGgufFile(stories);
  const dataStart = Math.min(...g.tensors.map((t) => t.offset));
  put("gguf", "stories260K-header.gguf", file.subarray(0, dataStart));

  const apr = await convertGgufToApr(stories);
  put("apr", "stories260K-prefix.apr", apr.subarray(0, Number(apr.readBigUInt64LE(32))));

  const f32 = (name: string, n: number) => {
    const t = g.tensors.find((x) => x.name === name)!;
    return new Float32Array(file.buffer.slice(file.byteOffset + t.offset, file.byteOffset + t.offset + n * 4));
  };
  put("safetensors", "stories260K.safetensors", encodeSafetensors(new Map([
    ["token_embd.rows", { shape: [4, 64], data: f32("token_embd.weight", 256) }],
    ["output_norm", { shape: [64], data: f32("output_norm.weight", 64) }],
  ]), { source: "stories260K.gguf" }));

  const trace = JSON.parse(readFileSync(path.join(root, "traces", "stories260K.prompt.json"), "utf8"));
  trace.points = trace.points.slice(0, 12);
  delete trace.logits;
  put("trace-json", "stories260K-llamacpp.json", JSON.stringify(trace));

  const dump = path.join(shared, "fixtures", "llama-eval-callback", "stories260K.txt");
  if (existsSync(dump)) {
    const text = readFileSync(dump, "utf8");
    put("importers-text", "stories260K-eval-callback.txt", text.slice(0, text.lastIndexOf("\ncommon_debug_cb_eval:", MAX - 1)));
  }

  const pt = (key: string) => trace.points.find((p: { key: string }) => p.key === key) ?? trace.points[0];
  const st = (key: string) => {
    const s = pt(key).all;
    return { min: s.min, max: s.max, mean: s.mean, std_dev: s.std, nan_count: s.nan, inf_count: s.inf, zero_count: s.zeros, count: s.count };
  };
  const layer = (l: number) => ({ layer_idx: l, attn_norm: st(`blk.${l}.attn_norm`), qkv: st(`blk.${l}.q`), attn_out: st(`blk.${l}.attn_out`), ffn_norm: st(`blk.${l}.ffn_norm`), output: st(`blk.${l}.l_out`) });
  put("importers-json", "aprender-trace.json", JSON.stringify({
    format: "apr", architecture: "llama", num_layers: 2, hidden_dim: 64, vocab_size: 512, num_heads: 8, num_kv_heads: 4,
    prompt: "(token ids)", encoded_tokens: trace.input.tokens, embedding: st("embd"), layers: [layer(0), layer(1)], final_norm: st("embd"),
    logits_stats: st("embd"), logits: { vocab_size: 512, l2_norm: 0, top_k: [] },
  }));
  const torch = (key: string) => {
    const s = pt(key).all;
    return { shape: `torch.Size([1, ${pt(key).shape.join(", ")}])`, dtype: "torch.float32", mean: `tensor(${s.mean})`, std: `tensor(${s.std})`, min: `tensor(${s.min})`, max: `tensor(${s.max})` };
  };
  const CLS = "LlamaForCausalLM";
  put("importers-json", "transformers-debug.json", JSON.stringify({
    module_path: CLS, inputs: { kwargs: { input_ids: { value: [`tensor([[${trace.input.tokens.join(", ")}]])`] } } },
    children: [{
      module_path: `${CLS}.model`, inputs: {}, children: [
        { module_path: `${CLS}.model.embed_tokens`, inputs: {}, outputs: torch("embd") },
        { module_path: `${CLS}.model.layers.0`, inputs: { args: [torch("embd")] }, outputs: torch("blk.0.l_out"), children: [
          { module_path: `${CLS}.model.layers.0.input_layernorm`, inputs: { args: [torch("embd")] }, outputs: torch("blk.0.attn_norm") },
          { module_path: `${CLS}.model.layers.0.self_attn.q_proj`, inputs: { args: [torch("blk.0.attn_norm")] }, outputs: torch("blk.0.q") },
          { module_path: `${CLS}.model.layers.0.mlp.down_proj`, inputs: { args: [torch("blk.0.ffn_act")] }, outputs: torch("blk.0.ffn_out") },
        ] },
      ],
    }],
  }));

  // native seeds: the first blocks of one tensor of every type in the real files
  const ggufs = [stories, path.join(shared, "models", "TinyLLama-v0-Q4_0.gguf"), ...readdirSync(path.join(shared, "models", "bad")).map((f) => path.join(shared, "models", "bad", f))];
  const gen = path.join(root, "tests", "fixtures", "generated");
  if (existsSync(gen)) for (const f of readdirSync(gen)) if (f.endsWith(".gguf") && !f.startsWith("bench-")) ggufs.push(path.join(gen, f));
  const seen = new Set<number>();
  for (const p of ggufs) {
    let gf;
    try {
      gf = await readGgufFile(p);
    } catch {
      continue; // a broken file on purpose (models/bad)
    }
    const bytes = readFileSync(p);
    for (const t of gf.tensors) {
      if (seen.has(t.type)) continue;
      seen.add(t.type);
      const blocks = bytes.subarray(t.offset, t.offset + Math.min(t.byteLength, 2048));
      put("native-dequant", `${t.typeName}.bin`, Buffer.concat([Buffer.from([t.type]), blocks]));
      // matmul.cc: type, flags (whole blocks, 2 tokens, packed, ggml mode, default path), nOut-1, nIn, stride
      const head = Buffer.from([t.type, 0x02, 3, 0, 0, 0, 0]);
      put("native-matmul", `${t.typeName}.bin`, Buffer.concat([head, blocks]));
    }
  }
  console.log(`fuzz:seeds: wrote ${readdirSync(corpus).map((d) => `${d} (${readdirSync(path.join(corpus, d)).length})`).join(", ")}`);
}

await main();
