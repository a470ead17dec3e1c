#!/usr/bin/env node
// npm run test:asan: the native-heavy tests (kernels, bindings, formats, reference; or the files given as
// arguments) on the sanitizer build of both addons (npm run build:asan -> build-asan/), in a Node with the
// ASan runtime preloaded. Every sanitizer report is fatal and also written to a log file; the run fails
// when vitest fails or when any report was written, and prints the counts either way.
//
// Options (docs/sanitizers.md says why each is there):
//   detect_leaks=0     Node and V8 keep allocations alive until exit on purpose; LeakSanitizer would
//                      report them as leaks of the process, not of rosetta
//   handle_segv=0      V8 handles SIGSEGV itself (WebAssembly bounds traps); ASan must not take it over
//   halt_on_error=1    the first report ends the process (vitest then fails that file)
// UBSan: -fno-sanitize-recover=all at compile time makes every finding fatal; no suppressions.
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

/** Sanitizer reports in a piece of output: UBSan's "runtime error:" lines and ASan's ERROR banners. */
const reportLines = (text) => (text.match(/: runtime error: |ERROR: (AddressSanitizer|UndefinedBehaviorSanitizer|LeakSanitizer)/g) ?? []).length;

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const buildDir = process.env.ROSETTA_ASAN_BUILD_DIR ?? "build-asan";
const runtimeFile = path.join(root, buildDir, "sanitizer-runtime.txt");
if (!existsSync(runtimeFile) || !existsSync(path.join(root, buildDir, "Release", "rosetta.node"))) {
  console.error(`rosetta: no sanitizer build in ${buildDir}/; run \`npm run build:asan\` first`);
  process.exit(2);
}
const runtime = readFileSync(runtimeFile, "utf8").trim();
if (!existsSync(runtime)) {
  console.error(`rosetta: the sanitizer runtime ${runtime} is missing (gcc: libasan8 / libgcc-12-dev; clang: libclang-rt-14-dev)`);
  process.exit(2);
}
const logDir = path.join(root, buildDir, "reports");
rmSync(logDir, { recursive: true, force: true });
mkdirSync(logDir, { recursive: true });

const files = process.argv.slice(2);
const targets = files.length > 0 ? files : ["tests/kernels", "tests/bindings", "tests/formats", "tests/reference"];
const env = {
  // the seeded mutation fuzz of tests/formats is pure TypeScript (fuzzed at full speed by npm test and
  // npm run fuzz); under the sanitizer runtime every allocation is slower, so it runs fewer cases here
  ROSETTA_FUZZ_CASES: "300",
  ...process.env,
  ROSETTA_BUILD_DIR: buildDir,
  LD_PRELOAD: [runtime, process.env.LD_PRELOAD].filter(Boolean).join(":"),
  ASAN_OPTIONS: `detect_leaks=0:handle_segv=0:halt_on_error=1:abort_on_error=1:log_path=${logDir}/asan`,
  UBSAN_OPTIONS: `halt_on_error=1:abort_on_error=1:print_stacktrace=1:log_path=${logDir}/ubsan`,
};
// Preflight: the sanitizer runtime and the instrumented addons are what a test process really loads.
const probe = spawnSync(process.execPath, [path.join(root, "scripts", "asan-preflight.js")], { cwd: root, env, encoding: "utf8" });
let pre;
try {
  pre = JSON.parse(probe.stdout.trim().split("\n").at(-1));
} catch {
  console.error(`rosetta: the sanitizer preflight failed: ${(probe.stderr || probe.stdout).trim().split("\n").filter((l) => /Error/.test(l))[0] ?? "no output"}`);
  process.exit(2);
}
if (!pre.asan || !pre.ubsan || pre.loaded.length === 0) {
  console.error(`rosetta: the sanitizer preflight failed (ASan runtime loaded: ${pre.asan}, UBSan handlers in the addons: ${pre.ubsan}, instrumented addons loaded: ${pre.loaded.join(", ") || "none"})`);
  process.exit(2);
}
console.log(`== preflight: ASan runtime loaded, UBSan handlers present, instrumented addons: ${pre.loaded.map((p) => path.relative(root, p)).join(", ")}`);
// Self-check: a deliberate heap overflow and a signed overflow in a library built with the same flags
// must each end the process with a report file, or "0 reports" below would mean nothing.
const cxx = process.env.CXX ?? (runtime.includes("clang_rt") ? "clang++" : "g++");
const canary = path.join(root, buildDir, "canary.so");
const cc = spawnSync(cxx, ["-fsanitize=address,undefined", "-fno-sanitize-recover=all", "-O0", "-g", "-shared", "-fPIC",
  path.join(root, "scripts", "asan-canary.cc"), "-o", canary], { encoding: "utf8" });
if (cc.status !== 0) {
  console.error(`rosetta: cannot build the sanitizer self-check with ${cxx}: ${(cc.stderr || "").trim().split("\n")[0]}`);
  process.exit(2);
}
for (const kind of ["asan", "ubsan"]) {
  const dir = path.join(logDir, `canary-${kind}`);
  mkdirSync(dir, { recursive: true });
  const cenv = { ...env, ROSETTA_CANARY: kind, ASAN_OPTIONS: env.ASAN_OPTIONS.replace(/log_path=[^:]*/, `log_path=${dir}/asan`), UBSAN_OPTIONS: env.UBSAN_OPTIONS.replace(/log_path=[^:]*/, `log_path=${dir}/ubsan`) };
  const c = spawnSync(process.execPath, ["-e", `try { process.dlopen({ exports: {} }, ${JSON.stringify(canary)}); } catch {}`], { env: cenv, encoding: "utf8" });
  // gcc's UBSan writes to stderr even with a log_path (ASan honours it): both places count
  const got = readdirSync(dir).length + reportLines(c.stderr ?? "");
  if (c.status === 0 || got === 0) {
    console.error(`rosetta: the sanitizer self-check failed: a deliberate ${kind} bug was not reported (exit ${c.status ?? c.signal}, ${got} reports)`);
    process.exit(2);
  }
  rmSync(dir, { recursive: true, force: true });
}
console.log("== self-check: a deliberate heap overflow (ASan) and signed overflow (UBSan) each ended the process with a report");
const vitest = path.join(root, "node_modules", "vitest", "vitest.mjs");
const jsonOut = path.join(logDir, "..", "vitest-asan.json");
console.log(`== sanitizer run: ${buildDir}/Release/*.node, LD_PRELOAD=${runtime}`);
const started = Date.now();
// stdout and stderr pass through as they come, and are scanned for reports a runtime printed instead of logging
let printed = 0;
const status = await new Promise((resolve) => {
  const child = spawn(process.execPath, [vitest, "run", ...targets, "--reporter=default", "--reporter=json", `--outputFile.json=${jsonOut}`], { cwd: root, env, stdio: ["ignore", "pipe", "pipe"] });
  child.stdout.on("data", (d) => { printed += reportLines(String(d)); process.stdout.write(d); });
  child.stderr.on("data", (d) => { printed += reportLines(String(d)); process.stderr.write(d); });
  child.on("close", (code) => resolve(code));
});
const r = { status };
const reportFiles = readdirSync(logDir).filter((f) => /^(asan|ubsan)\.\d+/.test(f));
const reports = [...reportFiles, ...Array.from({ length: printed }, () => "(printed on stderr)")];
for (const f of reportFiles) {
  console.error(`---- ${f}`);
  console.error(readFileSync(path.join(logDir, f), "utf8"));
}
let counts = "";
try {
  const j = JSON.parse(readFileSync(jsonOut, "utf8"));
  counts = `${j.testResults.length} files, ${j.numPassedTests} tests passed, ${j.numFailedTests} failed, ${j.numPendingTests} skipped; `;
} catch {
  counts = "(no vitest summary) ";
}
const secs = ((Date.now() - started) / 1000).toFixed(0);
console.log(`== sanitizer run: ${counts}${reports.length} sanitizer reports (ASan + UBSan); ${secs} s`);
process.exit(r.status === 0 && reports.length === 0 ? 0 : 1);
