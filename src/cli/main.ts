/**
 * The rosetta CLI: global flags, the command table (src/cli/commands/), and the one exit policy:
 * 0 ok / match, 1 divergence (under --assert-match), 2 bad input or usage, 3 internal error.
 */
import { existsSync } from "node:fs";

import yargs, { type Argv } from "yargs";

import { EXIT, RosettaError, UsageError } from "../util/errors.js";
import { configureLogging, type LogFormat } from "../util/log.js";
import { commands } from "./commands/index.js";

export interface GlobalArgs {
  quiet?: boolean;
  verbose?: boolean;
  "log-format"?: LogFormat;
}

/** Builds the parser (pure: no side effects until parsed), for the CLI and for in-process tests. */
export function buildCli(argv: string[]): Argv<GlobalArgs> {
  let cli = yargs(argv)
    .scriptName("rosetta")
    .usage(
      "rosetta: differential tracing for transformer inference numerics.\n\n" +
        "Run one model from two sources (APR, GGUF, a Hugging Face folder, a saved trace, real llama.cpp on\n" +
        "the CPU or Vulkan, or transformers), capture every layer and sub-step, find the first divergence\n" +
        "and say why.",
    )
    .option("quiet", { alias: "q", type: "boolean", description: "Only warnings and errors on stderr" })
    .option("verbose", { alias: "v", type: "boolean", description: "More detail (every capture point, debug logs)" })
    .option("log-format", { choices: ["pretty", "json"] as const, default: "pretty" as LogFormat, description: "stderr log format: readable lines or JSON lines" })
    .middleware((a) => configureLogging({ format: a["log-format"], quiet: a.quiet, verbose: a.verbose }))
    .strict()
    .strictCommands()
    .demandCommand(1, "Give a command (see the list above).")
    .recommendCommands()
    .help()
    .alias("help", "h")
    .version()
    .wrap(Math.min(110, process.stdout.columns ?? 100))
    .epilogue("Exit codes: 0 match/ok, 1 divergence under --assert-match, 2 bad input or usage, 3 internal error.")
    // --help and --version print and exit 0 here; every other outcome returns through main().
    .exitProcess(true);
  for (const c of commands) cli = cli.command(c);
  return cli as Argv<GlobalArgs>;
}

/** Under `--log-format json` a fatal error is one JSON line too (pino's shape: level 50 error, 60 fatal). */
let jsonErrors = false;

function errorLine(level: 50 | 60, kind: string, text: string, exitCode: number, stack?: string): void {
  if (jsonErrors) process.stderr.write(JSON.stringify({ level, time: new Date().toISOString(), component: "cli", kind, exitCode, msg: text, ...(stack ? { stack } : {}) }) + "\n");
  else process.stderr.write(`rosetta: ${kind === "usage" ? "usage error" : "error"}: ${text}\n`);
}

function report(e: unknown): number {
  if (e instanceof UsageError) {
    errorLine(50, "usage", `${e.message} (see rosetta --help)`, e.exitCode);
    return e.exitCode;
  }
  if (e instanceof RosettaError) {
    errorLine(50, "input", e.message, e.exitCode);
    return e.exitCode;
  }
  if (jsonErrors) {
    errorLine(60, "internal", e instanceof Error ? e.message : String(e), EXIT.INTERNAL, e instanceof Error ? e.stack : undefined);
    return EXIT.INTERNAL;
  }
  process.stderr.write(`rosetta: internal error (a bug in rosetta; please report it with the command line):\n`);
  process.stderr.write(`${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  return EXIT.INTERNAL;
}

/**
 * yargs reads a lone "-" after a flag as a positional, not as the flag's value, so `--json -` (and `--junit -`,
 * `--html -`: stdout, as
 * the help says) failed as "Unknown argument: -"; joined here into `--json=-`, which yargs reads right.
 */
export function joinDashValues(argv: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === "--") {
      out.push(...argv.slice(i));
      break;
    }
    if ((argv[i] === "--json" || argv[i] === "--junit" || argv[i] === "--html") && argv[i + 1] === "-") {
      out.push(`${argv[i]}=-`);
      i++;
    } else out.push(argv[i]);
  }
  return out;
}

/**
 * `rosetta inspekt model.gguf` would run the default command and fail on a file named "inspekt"; a first
 * word that is no file and looks like a command name is reported as the mistyped command it is.
 */
function checkCommandWord(argv: string[]): void {
  const first = argv[0];
  if (first === undefined || !/^[a-z][a-z-]*$/.test(first) || existsSync(first)) return;
  const names = commands.map((c) => String(c.command).split(" ")[0]).filter((n) => n !== "$0");
  if (names.includes(first)) return;
  throw new UsageError(`'${first}' is not a command or a file (commands: ${names.join(", ")}; or give two models or traces to compare)`);
}

/** Runs the CLI and returns the exit code. Command handlers set `process.exitCode` for non-zero results. */
export async function main(argv: string[]): Promise<number> {
  argv = joinDashValues(argv);
  jsonErrors = argv.some((x, i) => x === "--log-format=json" || (x === "--log-format" && argv[i + 1] === "json"));
  if (argv.length === 0) {
    // Bare `rosetta`: the help, on stderr, and a usage exit code (nothing was asked for).
    process.stderr.write((await buildCli(["--help"]).getHelp()) + "\n\nrosetta: usage error: give two models (or traces) to compare, or a command; `rosetta demo` runs an example\n");
    return EXIT.INPUT;
  }
  try {
    process.exitCode = 0;
    checkCommandWord(argv);
    await buildCli(argv)
      .fail((msg, err) => {
        // Throwing here stops yargs before any handler runs.
        throw err ?? new UsageError(msg);
      })
      .parseAsync();
  } catch (e) {
    return report(e);
  }
  return typeof process.exitCode === "number" ? process.exitCode : 0;
}
