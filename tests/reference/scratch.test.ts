import { it } from "vitest";
import { traceHandler } from "../../src/cli/commands/TraceCommand.js";
import { readTrace } from "../../src/trace/io.js";
it("x", async () => {
  const t0 = performance.now();
  const f = await traceHandler({ model: "/work/shared/models/stories260K.gguf", engine: "llama.cpp", prompt: "Once upon a time there was a little girl named Lily. She", gen: 2, tensors: "", top: 5, threads: 1, backend: "default", repack: true, out: "/tmp/rl/s" } as any);
  console.log(f, performance.now() - t0);
  const t = readTrace(f);
  console.log(t.input, t.points.length);
});
