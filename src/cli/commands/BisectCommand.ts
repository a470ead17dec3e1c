/**
 * `rosetta bisect A B`: load and compare both sides once, then explore the divergence by experiment,
 * one command a line (a prompt with tab completion on a terminal; plain lines from a pipe; a script with
 * --script; `--auto` runs the minimal-set search and exits). Exit: 0 the final state matches at every
 * point (--auto: a minimal set was found), 1 it still diverges, 2 bad input (an unknown command in a
 * script, a bad flag), 3 internal error. Session logic: src/pipeline/bisect.ts; docs/bisect.md.
 */
import { appendFileSync, mkdirSync, readFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import readline from "node:readline";

import type { CommandModule } from "yargs";

import { BisectSession, COMMANDS } from "../../pipeline/bisect.js";
import { openComparison } from "../../pipeline/run-comparison.js";
import type { Numerics } from "../../bindings/kernels.js";
import { EXIT, InputError } from "../../util/errors.js";
import { checkWritable, writeOutput } from "../output.js";
import { parseThreshold, parseTokens } from "./CompareCommand.js";

export interface BisectArgs {
  a: string;
  b: string;
  prompt?: string;
  tokens?: string;
  script?: string;
  auto?: boolean;
  json?: string;
  threshold?: string;
  "numerics-a"?: Numerics;
  "numerics-b"?: Numerics;
  threads?: number;
  gen?: number;
  teacher?: string;
}

function checkGen(g: number | undefined): number | undefined {
  if (g === undefined) return undefined;
  if (!Number.isInteger(g) || g < 0 || g > 4096) throw new InputError(`--gen ${g}: expected a whole number of decode steps in 0..4096`);
  return g;
}

function historyFile(): string {
  const base = process.env.XDG_STATE_HOME || path.join(os.homedir(), ".local", "state");
  return path.join(base, "rosetta", "bisect_history");
}

function loadHistory(): string[] {
  try {
    // readline wants the newest first
    return readFileSync(historyFile(), "utf8").split("\n").filter(Boolean).slice(-500).reverse();
  } catch {
    return [];
  }
}

function saveHistory(line: string): void {
  try {
    mkdirSync(path.dirname(historyFile()), { recursive: true });
    appendFileSync(historyFile(), line + "\n");
  } catch {
    // best effort
  }
}

function completer(session: BisectSession): readline.Completer {
  const names = [...Object.keys(COMMANDS), "exit"];
  return (line: string) => {
    const words = line.split(/\s+/);
    const last = words[words.length - 1];
    if (words.length <= 1) {
      const hits = names.filter((n) => n.startsWith(last));
      return [hits.length ? hits : names, last];
    }
    const cmd = words[0];
    const pool = cmd === "help" ? names : cmd === "point" ? session.result.points.filter((p) => p.step === 0).map((p) => p.key) : cmd === "take" ? session.completions() : [];
    const hits = pool.filter((k) => k.startsWith(last));
    return [hits, last];
  };
}

/** Reads lines from stdin (a prompt on a terminal) until quit or end of input. */
async function interactive(session: BisectSession): Promise<void> {
  const tty = !!process.stdin.isTTY;
  const rl = readline.createInterface({
    input: process.stdin,
    output: tty ? process.stdout : undefined,
    terminal: tty,
    prompt: "bisect> ",
    historySize: 500,
    ...(tty ? { completer: completer(session), history: loadHistory() } : {}),
  });
  rl.on("SIGINT", () => {
    if (session.busy) {
      session.interrupted = true;
      process.stdout.write("\n(interrupt: stopping after the current rerun)\n");
    } else {
      process.stdout.write("\n(type quit to leave)\n");
      rl.prompt();
    }
  });
  if (tty) rl.prompt();
  for await (const line of rl) {
    if (tty && line.trim()) saveHistory(line.trim());
    if ((await session.exec(line)).quit) break;
    if (tty) rl.prompt();
  }
  rl.close();
}

/** --json FILE ('-': stdout, after the progress lines). */
function writeJson(file: string, v: unknown): void {
  const text = JSON.stringify(v, null, 2) + "\n";
  if (file === "-") process.stdout.write(text);
  else writeOutput(file, text, "--json");
}

export const bisectCommand: CommandModule<object, BisectArgs> = {
  command: "bisect <a> <b>",
  describe: "Explore a divergence by experiment: transplant tensors or config keys from the other side, undo, search a minimal set",
  builder: (y) =>
    y
      .positional("a", { type: "string", demandOption: true, description: "side A: model file (GGUF/APR)" })
      .positional("b", { type: "string", demandOption: true, description: "side B, the reference: model file" })
      .option("prompt", { alias: "p", type: "string", description: "Prompt (each side tokenizes it with its own tokenizer)" })
      .option("tokens", { type: "string", description: "Token ids, comma separated" })
      .option("script", { type: "string", description: "Run the commands of FILE (one a line, # comments) instead of a prompt; exit 0 if the final state matches, 1 if it diverges, 2 on a bad line" })
      .option("auto", { type: "boolean", description: "Search a minimal transplant set (ddmin) and exit: 0 found, 1 not" })
      .option("json", { type: "string", description: "With --auto: write {minimal, reruns, ms, matches} to FILE" })
      .option("threshold", { type: "string", description: "Max energy NMSE per point (as in rosetta A B)" })
      .option("numerics-a", { choices: ["ggml", "exact"] as const, description: "rosetta numerics mode for side A (default ggml)" })
      .option("numerics-b", { choices: ["ggml", "exact"] as const, description: "rosetta numerics mode for side B (default ggml)" })
      .option("threads", { type: "number", description: "Threads per engine" })
      .option("gen", { type: "number", description: "Greedy decode steps after the prompt, teacher-forced (see --teacher); `steps` and `auto` then find the first bad step" })
      .option("teacher", { choices: ["a", "b", "none"] as const, default: "b", description: "With --gen: whose generated tokens both sides consume (default b, the reference)" })
      .check((a) => {
        if (a.prompt !== undefined && a.tokens !== undefined) throw new InputError("give --prompt or --tokens, not both");
        if (a.json !== undefined && !a.auto) throw new InputError("--json goes with --auto");
        if (a.script !== undefined && a.auto) throw new InputError("give --script or --auto, not both");
        parseThreshold(a.threshold);
        return true;
      })
      .example("rosetta bisect bad.gguf good.gguf --tokens 1,2,3", "interactive session")
      .example("rosetta bisect bad.gguf good.gguf -p hi --auto --json min.json", "minimal explaining set, as JSON"),
  handler: async (args) => {
    if (args.json && args.json !== "-") checkWritable(args.json, "--json");
    let script: string[] | undefined;
    if (args.script !== undefined) {
      try {
        script = readFileSync(args.script, "utf8").split("\n");
      } catch (e) {
        throw new InputError(`--script ${args.script}: ${(e as Error).message}`);
      }
    }
    const s = await openComparison({
      a: { path: args.a, numerics: args["numerics-a"] },
      b: { path: args.b, numerics: args["numerics-b"] },
      prompt: args.prompt,
      tokens: parseTokens(args.tokens),
      threshold: parseThreshold(args.threshold),
      threads: args.threads,
      gen: checkGen(args.gen),
      teacher: args.teacher as "a" | "b" | "none" | undefined,
    });
    const out = (t: string) => void process.stdout.write(t);
    // a script stops at its first bad line, with one error line on stderr (exit 2)
    const session = script ? new BisectSession(s, out, () => {}) : new BisectSession(s, out);
    // Ctrl-C while an experiment runs (a pipe or a script: no readline in raw mode): a flag, not the end
    // of the session; at rest it ends the session as usual
    const onSigint = () => {
      if (!session.busy) {
        session.close();
        process.exit(130);
      }
      session.interrupted = true;
      process.stderr.write("\n(interrupt: stopping after the current rerun)\n");
    };
    process.on("SIGINT", onSigint);
    try {
      session.overview();
      if (args.auto) {
        if (!session.lab) {
          out(`nothing to search: ${session.result.verdict === "DIVERGED" ? "no side can be rerun by rosetta's engine with the other's tensors" : `the comparison is ${session.result.verdict}`}\n`);
          if (args.json) writeJson(args.json, { minimal: null, reruns: 0, ms: 0, matches: session.matches });
          process.exitCode = EXIT.DIVERGENCE;
          return;
        }
        session.busy = true;
        const r = await session.auto();
        if (args.json) writeJson(args.json, r);
        process.exitCode = r.minimal && r.matches ? EXIT.OK : EXIT.DIVERGENCE;
        return;
      }
      if (script) {
        for (const [i, line] of script.entries()) {
          if (!line.trim() || line.trim().startsWith("#")) continue;
          out(`bisect> ${line.trim()}\n`);
          const r = await session.exec(line);
          if (!r.ok) {
            process.stderr.write(`rosetta: error: ${args.script}:${i + 1}: ${session.lastError ?? "not understood"}\n`);
            process.exitCode = EXIT.INPUT;
            return;
          }
          if (r.quit) break;
        }
      } else {
        await interactive(session);
      }
      process.exitCode = session.matches ? EXIT.OK : EXIT.DIVERGENCE;
    } finally {
      process.off("SIGINT", onSigint);
      session.close();
    }
  },
};
