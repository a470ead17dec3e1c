import { test } from "vitest";
import { Engine } from "../../src/model/engine.js";
import { runLlamaCppTrace } from "../../src/reference/llamacpp.js";
test("time", async () => {
  const f = "/work/shared/models/stories260K.gguf", tokens = [1, 403, 407, 261, 378, 300, 270];
  let t0 = Date.now();
  const ref = await runLlamaCppTrace({ model: f, tokens, gen: 50, full: ["*"], threads: 1 });
  console.log("bridge", Date.now() - t0, ref.tensors.get("s0.blk.0.kq_softmax")?.shape, ref.tensors.get("s3.blk.0.kq_softmax")?.shape);
  t0 = Date.now();
  const e = await Engine.open(f, { numerics: "ggml" });
  console.log("open", Date.now() - t0); t0 = Date.now();
  const r = e.generate(tokens, { nGen: 50, promptLogits: "all", capture: () => {} });
  console.log("gen", Date.now() - t0);
}, 300000);
