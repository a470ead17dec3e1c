#!/usr/bin/env node
// `npm run check:isa`: builds bench/isa-check.cc (scripts/kernel-tool.js) into build/isa-check, a static
// binary, and runs it: every ISA path this CPU has against the scalar reference, bit for bit (see the
// file). Copy build/isa-check to another machine to check the paths there.
// `npm run check:isa -- --cpu MODEL` runs it under QEMU's user-mode emulator with that CPU model
// (`qemu-x86_64 -cpu help` lists them; Debian: apt-get install qemu-user), e.g. Haswell-v4, an AVX2 CPU
// without AVX-512: the binary's cpuid dispatch then sees what such a CPU reports. A check, not a benchmark.
import { spawnSync } from "node:child_process";

import { buildKernelTool, runKernelTool } from "./kernel-tool.js";

const args = process.argv.slice(2);
const at = args.indexOf("--cpu");
if (at >= 0 && !args[at + 1]) {
  console.error("check:isa: --cpu needs a QEMU CPU model, e.g. --cpu Haswell-v4 (qemu-x86_64 -cpu help lists them)");
  process.exit(2);
}
const exe = buildKernelTool("isa-check", { staticLink: true });
if (at < 0) runKernelTool(exe, []);
else {
  const cpu = args[at + 1];
  if (spawnSync("qemu-x86_64", ["-version"], { stdio: "ignore" }).status !== 0) {
    console.error("check:isa: --cpu runs the check under qemu-x86_64, which is not installed (Debian: apt-get install qemu-user)");
    process.exit(2);
  }
  console.log(`check:isa under qemu-x86_64 -cpu ${cpu}`);
  // QEMU warns once per CPU feature its TCG lacks (pcid, x2apic, ...): not the check's business
  const r = spawnSync("qemu-x86_64", ["-cpu", cpu, exe], { stdio: ["ignore", "inherit", "pipe"], encoding: "utf8" });
  const errs = (r.stderr ?? "").split("\n").filter((l) => l && !/TCG doesn't support requested feature/.test(l));
  if (errs.length) console.error(errs.join("\n"));
  if (r.status !== 0) process.exit(r.status ?? 1);
}
