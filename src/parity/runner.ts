/**
 * Orchestrates a parity run: verify every pin first (exit 2 before anything is compared), enumerate
 * (model, quant, prompt) cases, take this shard's share, run llama.cpp once per case and rosetta per
 * numerics mode and ISA path, and compare.
 */
import { readFileSync } from "node:fs";

import { cpuFeatures, currentIsa } from "../bindings/kernels.js";
import type { LlamaBridge } from "../bindings/llama.js";
import { loadTokenizer, type Tokenizer } from "../tokenizer/index.js";
import { InputError, RosettaError } from "../util/errors.js";
import { bandFor } from "./bands.js";
import { checkPin, sha256Bytes, type Manifest, type ManifestModel } from "./manifest.js";
import { describeModel, type ModelInfo } from "./model-info.js";
import { comparePrompt, failedPrompt, type PromptMeta } from "./prompt.js";
import { caseId, selectShard, type Shard } from "./shard.js";
import { REFERENCE_SETTINGS, openReference, openRosetta, runReference, runRosetta, type RosettaSide } from "./sides.js";
import { tokensFor, type Suite } from "./suite.js";
import { runPassed, type IsaName, type IsaRun, type Numerics, type ParityRunResult, type PromptResult } from "./types.js";

export interface ModelTarget {
  name: string;
  /** The file rosetta runs. */
  path: string;
  /** The file llama.cpp runs (default: the same file); e.g. the original GGUF of a converted model. */
  refPath?: string;
  pinned?: ManifestModel;
}

export interface ParityOptions {
  models: ModelTarget[];
  suite: Suite;
  /** Explicit generated-token count for every prompt (else per prompt / suite default). */
  tokens?: number;
  top: number;
  numerics: Numerics[];
  /** Modes that decide the verdict (default: all of `numerics`); the others are reported only. */
  gate?: Numerics[];
  /** ISA paths to force, side by side; empty = the kernels' own choice (ROSETTA_ISA or best). */
  isa: IsaName[];
  shard: Shard | null;
  manifest: Manifest | null;
  threads: number;
  /** Run only these prompt indices (tests). */
  prompts?: number[];
  log?: (line: string) => void;
}

interface Case {
  target: ModelTarget;
  info: ModelInfo;
  model: string;
  quant: string;
  promptIdx: number;
}

/** Every pin is checked before any comparison; the first mismatch throws (exit 2). */
async function verifyPins(o: ParityOptions, bridge: LlamaBridge): Promise<Map<ModelTarget, ModelInfo>> {
  const m = o.manifest;
  if (m) {
    for (const [name, v] of Object.entries(m.reference.packages)) checkPin(`package ${name}`, v, bridge.packages[name]);
    checkPin("llama.cpp release", m.reference.llamaCpp.release, bridge.tag);
    checkPin("llama.cpp commit", m.reference.llamaCpp.commit, bridge.commit);
    for (const [k, v] of Object.entries(m.reference.settings))
      checkPin(`reference setting ${k}`, JSON.stringify(v), JSON.stringify((REFERENCE_SETTINGS as Record<string, unknown>)[k]));
    checkPin(`suite ${o.suite.path} sha256`, m.suite.sha256, sha256Bytes(readFileSync(o.suite.path)));
  }
  const infos = new Map<ModelTarget, ModelInfo>();
  for (const t of o.models) {
    const info = await describeModel(t.path, t.refPath);
    if (t.pinned) {
      checkPin(`${t.name} sha256`, t.pinned.sha256, info.sha256);
      checkPin(`${t.name} tokenizer metadata sha256`, t.pinned.tokenizerSha256, info.tokenizerSha256);
      checkPin(`${t.name} quant`, t.pinned.quant, info.quant);
    }
    infos.set(t, info);
  }
  return infos;
}

/** ISA columns: a path this CPU cannot run is reported as such and never run (so never a pass). */
export function isaColumns(requested: IsaName[]): IsaRun[] {
  const have: string[] = cpuFeatures().isas;
  return requested.map((r) => (have.includes(r) ? { requested: r, ran: null, status: "ran" } : { requested: r, ran: null, status: "unavailable on this CPU" }));
}

function tokenize(tok: Tokenizer, bridge: LlamaBridge, path: string, text: string): { ids: number[]; error?: string } {
  const ours = tok.tokenize(text, { addSpecial: true, parseSpecial: false });
  const ref = bridge.tokenize(path, text, true, false);
  if (ours.length === ref.length && ours.every((t, i) => t === ref[i])) return { ids: ref };
  return { ids: ref, error: `tokenizer mismatch: rosetta [${ours.join(",")}] vs llama.cpp [${ref.join(",")}] (compared on llama.cpp's ids)` };
}

export async function runParity(o: ParityOptions): Promise<ParityRunResult> {
  const bridge = openReference();
  const infos = await verifyPins(o, bridge);
  const isa: IsaRun[] = o.isa.length ? isaColumns(o.isa) : [{ requested: currentIsa() as IsaName, ran: null, status: "ran" }];
  const idxs = o.prompts ?? o.suite.prompts.map((_, i) => i);
  for (const i of idxs) if (!o.suite.prompts[i]) throw new InputError(`prompt index ${i} is not in the suite (${o.suite.prompts.length} prompts)`);
  const all: Case[] = [];
  for (const t of o.models) {
    const info = infos.get(t)!;
    for (const p of idxs) all.push({ target: t, info, model: t.name, quant: info.quant, promptIdx: p });
  }
  const cases = selectShard(all, o.shard);
  const run: ParityRunResult = {
    format: "rosetta.parity",
    version: 1,
    shard: o.shard,
    settings: settingsRecord(o, bridge),
    manifest: o.manifest ? { path: o.manifest.file, sha256: o.manifest.sha256 } : null,
    isa,
    results: [],
    skipped: [],
    gate: o.gate ?? o.numerics,
    passed: false,
  };
  for (const c of cases) for (const col of isa) if (col.status !== "ran") for (const n of o.numerics) run.skipped.push({ case: `${caseId(c)}/${n}/${col.requested}`, reason: col.status });
  const engines = new Map<string, RosettaSide>();
  try {
    for (const c of cases) run.results.push(...(await runCase(o, c, bridge, isa, engines)));
  } finally {
    for (const e of engines.values()) e.engine.close();
  }
  run.passed = runPassed(run);
  return run;
}

function settingsRecord(o: ParityOptions, bridge: LlamaBridge): Record<string, unknown> {
  return {
    reference: { ...REFERENCE_SETTINGS, llamaCppRelease: bridge.tag, llamaCppCommit: bridge.commit, packages: bridge.packages, backendVariant: bridge.backend.loaded },
    rosetta: { numerics: o.numerics, gate: o.gate ?? o.numerics, isa: o.isa, threads: o.threads, feeding: "teacher forcing: prompt in one batch, then one forced token per step" },
    top: o.top,
    tokens: o.tokens ?? "per prompt",
    suite: { path: o.suite.path, version: o.suite.version },
    prompts: o.prompts ?? "all",
  };
}

const tokenizers = new Map<string, Tokenizer>();

async function runCase(o: ParityOptions, c: Case, bridge: LlamaBridge, isa: IsaRun[], engines: Map<string, RosettaSide>): Promise<PromptResult[]> {
  const p = o.suite.prompts[c.promptIdx];
  if (!tokenizers.has(c.info.path)) tokenizers.set(c.info.path, await loadTokenizer(c.info.path));
  const refPath = c.target.refPath ?? c.info.path;
  const { ids, error } = tokenize(tokenizers.get(c.info.path)!, bridge, refPath, p.text);
  const nGen = tokensFor(p, o.suite, o.tokens);
  const ref = await runReference(bridge, refPath, ids, nGen);
  const out: PromptResult[] = [];
  for (const numerics of o.numerics) {
    const band = bandFor(c.quant, numerics);
    for (const col of isa) {
      if (col.status !== "ran") continue;
      const meta: PromptMeta = {
        model: c.model, quant: c.quant, numerics, isa: col.requested, promptIdx: c.promptIdx, promptId: p.id, bucket: p.bucket, k: o.top,
        band: band ?? bandFor("F32", numerics)!, promptErrors: error ? [error] : [],
      };
      if (!band) {
        out.push(failedPrompt(meta, `no parity band for quantization ${c.quant} (${numerics}); add one to src/parity/bands.ts`));
        continue;
      }
      const key = `${c.info.path}|${numerics}`;
      let ros;
      try {
        if (!engines.has(key)) engines.set(key, await openRosetta(c.info.path, numerics, o.threads));
        ros = runRosetta(engines.get(key)!, ids, ref.generated, o.isa.length ? col.requested : null);
      } catch (e) {
        // rosetta refusing a file llama.cpp runs is a parity failure of that case, not bad input.
        if (!(e instanceof RosettaError)) throw e;
        out.push(failedPrompt(meta, `rosetta could not run: ${e.message}`));
        continue;
      }
      if (ros.vocab !== ref.vocab) {
        out.push(failedPrompt(meta, `vocab differs: rosetta ${ros.vocab}, llama.cpp ${ref.vocab}`));
        continue;
      }
      col.ran = ros.isaRan;
      meta.isa = ros.isaRan;
      if (o.isa.length && ros.isaRan !== col.requested) meta.promptErrors!.push(`asked for ISA ${col.requested} but ${ros.isaRan} ran`);
      meta.ms = { reference: ref.ms, rosetta: ros.ms };
      const r = comparePrompt({ ref: ref.logits, ros: ros.logits, vocab: ref.vocab, promptLen: ids.length, generated: ref.generated }, meta);
      o.log?.(`${caseId(c)} ${numerics} ${ros.isaRan}: ${r.passed ? "PASS" : "FAIL"} top1 ${r.top1Match}/${r.positions} kl_max ${r.kl.max.toExponential(2)}`);
      out.push(r);
    }
  }
  return out;
}
