#!/usr/bin/env node
// Coverage-guided fuzzing, time-boxed per target (docs/fuzzing.md):
//   npm run fuzz        CI: every native target 30 s, every TypeScript target 15 s
//   npm run fuzz:long   10 minutes per target
//   node scripts/fuzz.js [--native-seconds S] [--ts-seconds S] [--only native|ts] [--require-native]
// Native targets (fuzz/native/*.cc) are libFuzzer harnesses around the kernel entry points that take a
// model file's tensor bytes, built with clang's -fsanitize=fuzzer,address,undefined into build-fuzz/
// (needs clang and libclang-rt: `apt-get install clang-14 libclang-rt-14-dev`). Each starts from its
// committed seeds (fuzz/corpus/native-<name>/) and grows a working corpus in build-fuzz/corpus/<name>/.
// TypeScript targets run through dist/fuzz/ts/run.js (fast-check; compiled by `npm run fuzz`'s tsc).
// Prints per target: inputs executed and coverage (libFuzzer's cov = edges, ft = features); exit 1 on a
// finding (the input is kept in build-fuzz/findings/), 2 on bad usage or a missing toolchain with
// --require-native.
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const out = path.join(root, "build-fuzz");

function parseArgs() {
  const a = process.argv.slice(2);
  const o = { nativeSeconds: 30, tsSeconds: 15, only: null, requireNative: false };
  for (let i = 0; i < a.length; i++) {
    if (a[i] === "--native-seconds") o.nativeSeconds = Number(a[++i]);
    else if (a[i] === "--ts-seconds") o.tsSeconds = Number(a[++i]);
    else if (a[i] === "--only") o.only = a[++i];
    else if (a[i] === "--require-native") o.requireNative = true;
    else usage(`unknown argument ${a[i]}`);
  }
  if (!(o.nativeSeconds > 0) || !(o.tsSeconds > 0)) usage("--native-seconds and --ts-seconds take a positive number");
  if (o.only !== null && o.only !== "native" && o.only !== "ts") usage("--only takes native or ts");
  return o;
}

function usage(msg) {
  console.error(`fuzz: ${msg} (usage: node scripts/fuzz.js [--native-seconds S] [--ts-seconds S] [--only native|ts] [--require-native])`);
  process.exit(2);
}

/** A clang++ that links libFuzzer with ASan + UBSan, or null. */
function findClang() {
  const probeDir = path.join(out, "probe");
  mkdirSync(probeDir, { recursive: true });
  const src = path.join(probeDir, "probe.cc");
  writeFileSync(src, 'extern "C" int LLVMFuzzerTestOneInput(const unsigned char*, unsigned long) { return 0; }\n');
  for (const cxx of [process.env.ROSETTA_FUZZ_CXX, "clang++-14", "clang++"].filter(Boolean)) {
    const r = spawnSync(cxx, ["-fsanitize=fuzzer,address,undefined", src, "-o", path.join(probeDir, "probe")], { encoding: "utf8" });
    if (r.status === 0) return cxx;
  }
  return null;
}

/** Per-ISA compile options of the kernel sources, read from cmake/kernels.cmake (one place for them). */
function kernelSources() {
  const cmake = readFileSync(path.join(root, "cmake", "kernels.cmake"), "utf8");
  const base = /target_compile_options\(rosetta_kernels PRIVATE ([^)]*)\)/.exec(cmake)[1].split(/\s+/).filter((f) => f.startsWith("-f"));
  const isaFlags = {};
  for (const m of cmake.matchAll(/set_source_files_properties\(\$\{ROSETTA_KERNELS_(\w+)\} PROPERTIES\s+COMPILE_OPTIONS "([^"]+)"\)/g)) isaFlags[m[1]] = m[2].split(";");
  const dirs = { COMMON: "kernels", REF: "kernels/ref", AVX2: "kernels/arch/x86/avx2", AVX512: "kernels/arch/x86/avx512" };
  const files = [];
  for (const [k, d] of Object.entries(dirs)) {
    for (const f of readdirSync(path.join(root, d)).filter((x) => x.endsWith(".cpp")).sort()) files.push({ src: path.join(root, d, f), flags: [...base, ...(isaFlags[k] ?? [])] });
  }
  return files;
}

const SAN = ["-fsanitize=address,undefined", "-fno-sanitize-recover=all", "-fno-omit-frame-pointer", "-g", "-O1", "-std=c++17"];

function newest(dir) {
  let t = 0;
  for (const f of readdirSync(dir, { recursive: true })) {
    const p = path.join(dir, String(f));
    const s = statSync(p);
    if (s.isFile()) t = Math.max(t, s.mtimeMs);
  }
  return t;
}

/** Runs commands `jobs` at a time; rejects on the first failure. */
async function runAll(cmds, jobs) {
  let next = 0;
  const worker = async () => {
    while (next < cmds.length) {
      const [cmd, args] = cmds[next++];
      await new Promise((resolve, reject) => {
        const p = spawn(cmd, args, { stdio: ["ignore", "inherit", "inherit"] });
        p.on("exit", (code) => (code === 0 ? resolve() : reject(new Error(`${cmd} ${args.join(" ")} failed (${code})`))));
      });
    }
  };
  await Promise.all(Array.from({ length: jobs }, worker));
}

async function buildNative(cxx) {
  const objDir = path.join(out, "obj");
  mkdirSync(objDir, { recursive: true });
  const headersT = Math.max(newest(path.join(root, "kernels", "include")), statSync(path.join(root, "cmake", "kernels.cmake")).mtimeMs);
  const objs = [];
  const cmds = [];
  for (const { src, flags } of kernelSources()) {
    const obj = path.join(objDir, path.relative(root, src).replace(/[/\\]/g, "_") + ".o");
    objs.push(obj);
    if (existsSync(obj) && statSync(obj).mtimeMs > Math.max(statSync(src).mtimeMs, headersT)) continue;
    cmds.push([cxx, [...SAN, "-fsanitize=fuzzer-no-link", ...flags, `-I${path.join(root, "kernels", "include")}`, "-c", src, "-o", obj]]);
  }
  const harnesses = readdirSync(path.join(root, "fuzz", "native")).filter((f) => f.endsWith(".cc")).sort();
  const bins = harnesses.map((h) => path.join(out, `fuzz_${path.basename(h, ".cc")}`));
  if (cmds.length) console.log(`== building ${cmds.length} kernel objects with ${cxx} (libFuzzer + ASan + UBSan)`);
  const jobs = Math.max(1, os.availableParallelism?.() ?? os.cpus().length);
  await runAll(cmds, jobs);
  await runAll(harnesses.map((h, i) => [cxx, [...SAN, "-fsanitize=fuzzer", `-I${path.join(root, "kernels", "include")}`,
    path.join(root, "fuzz", "native", h), ...objs, "-lpthread", "-o", bins[i]]]), jobs);
  return harnesses.map((h, i) => ({ name: path.basename(h, ".cc"), bin: bins[i] }));
}

function runNative(t, seconds) {
  const work = path.join(out, "corpus", t.name);
  const findings = path.join(out, "findings");
  mkdirSync(work, { recursive: true });
  mkdirSync(findings, { recursive: true });
  const seeds = path.join(root, "fuzz", "corpus", `native-${t.name}`);
  const r = spawnSync(t.bin, [`-max_total_time=${seconds}`, "-print_final_stats=1", "-max_len=4096", "-timeout=10", "-rss_limit_mb=4096",
    `-artifact_prefix=${findings}/${t.name}-`, work, ...(existsSync(seeds) ? [seeds] : [])], {
    encoding: "utf8", maxBuffer: 64 << 20,
    env: { ...process.env, ASAN_OPTIONS: "detect_leaks=1:halt_on_error=1", UBSAN_OPTIONS: "halt_on_error=1:print_stacktrace=1" },
  });
  const log = (r.stderr ?? "") + (r.stdout ?? "");
  const last = [...log.matchAll(/^#(\d+)\s+\w+\s+cov: (\d+) ft: (\d+) corp: (\d+)\/(\S+)/gm)].at(-1);
  const execs = /stat::number_of_executed_units:\s*(\d+)/.exec(log)?.[1] ?? last?.[1] ?? "?";
  const speed = /stat::average_exec_per_sec:\s*(\d+)/.exec(log)?.[1] ?? "?";
  console.log(`native ${t.name}: ${execs} inputs executed (${speed}/s) in ${seconds} s; cov ${last?.[2] ?? "?"} edges, ft ${last?.[3] ?? "?"} features, corpus ${last?.[4] ?? "?"} inputs (${last?.[5] ?? "?"})`);
  if (r.status !== 0) {
    console.log(log.split("\n").filter((l) => /ERROR|SUMMARY|runtime error|==\d+==|artifact|#\d+ 0x/.test(l)).slice(0, 40).join("\n"));
    console.log(`native ${t.name}: FINDING (exit ${r.status}); the input is in build-fuzz/findings/`);
    return false;
  }
  return true;
}

async function main() {
  const o = parseArgs();
  let ok = true;
  if (o.only !== "ts") {
    const cxx = findClang();
    if (!cxx) {
      const msg = "native fuzz targets skipped: no clang++ with libFuzzer (apt-get install clang-14 libclang-rt-14-dev)";
      if (o.requireNative) {
        console.error(`fuzz: ${msg}`);
        process.exit(2);
      }
      console.log(msg);
    } else {
      console.log(`== native fuzz (${cxx}, ${o.nativeSeconds} s per target)`);
      let targets;
      try {
        targets = await buildNative(cxx);
      } catch (e) {
        console.error(`fuzz: building the native targets failed: ${e.message.split("\n")[0].slice(0, 300)}`);
        process.exit(2);
      }
      for (const t of targets) ok = runNative(t, o.nativeSeconds) && ok;
    }
  }
  if (o.only !== "native") {
    const r = spawnSync(process.execPath, [path.join(root, "dist", "fuzz", "ts", "run.js"), "--seconds", String(o.tsSeconds)], { stdio: "inherit", cwd: root });
    ok = r.status === 0 && ok;
  }
  process.exit(ok ? 0 : 1);
}

await main();
