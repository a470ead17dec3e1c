// Run by scripts/test-asan.js in the sanitizer environment: prints what this process really loaded (the
// ASan runtime, the instrumented addons from ROSETTA_BUILD_DIR) as one JSON line.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";

import { builtAddonPath } from "../dist/src/bindings/paths.js";

const require = createRequire(import.meta.url);
for (const f of ["rosetta.node", "rosetta_llama.node"]) {
  try {
    require(builtAddonPath(f));
  } catch (e) {
    if (f === "rosetta.node") throw e; // the bridge is optional
  }
}
const maps = readFileSync("/proc/self/maps", "utf8");
const loaded = ["rosetta.node", "rosetta_llama.node"].map((f) => builtAddonPath(f)).filter((p) => maps.includes(p));
const asan = maps.split("\n").some((l) => /libasan|libclang_rt\.asan/.test(l));
const ubsan = loaded.length > 0 && loaded.every((p) => readFileSync(p).includes("__ubsan_handle_"));
console.log(JSON.stringify({ asan, ubsan, loaded }));
