/**
 * Logging: pino to stderr. `pretty` (default on a terminal or not) prints one readable line per record;
 * `json` prints pino's JSON lines; `quiet` drops everything below warn. stdout is reserved for the
 * command's own output (tables, --json).
 */
import { pino, type Logger } from "pino";

export type LogFormat = "pretty" | "json";

export interface LogOptions {
  format?: LogFormat;
  quiet?: boolean;
  verbose?: boolean;
}

const LEVEL_NAMES: Record<number, string> = { 10: "TRACE", 20: "DEBUG", 30: "INFO", 40: "WARN", 50: "ERROR", 60: "FATAL" };
// Not repeated after the message in readable lines: `detail` holds fields the message already states
// (they stay in JSON lines for machines).
const SKIP = new Set(["level", "time", "pid", "hostname", "msg", "component", "detail"]);

function formatValue(v: unknown): string {
  if (Array.isArray(v)) return `[${v.join(",")}]`;
  if (typeof v === "string") return /\s/.test(v) ? JSON.stringify(v) : v;
  return typeof v === "object" && v !== null ? JSON.stringify(v) : String(v);
}

/** A synchronous pino destination writing `[rosetta] LEVEL component: msg key=value ...` lines. */
function prettyStderr(): { write(line: string): void } {
  return {
    write(line: string) {
      let rec: Record<string, unknown>;
      try {
        rec = JSON.parse(line) as Record<string, unknown>;
      } catch {
        process.stderr.write(line);
        return;
      }
      const level = LEVEL_NAMES[rec.level as number] ?? String(rec.level);
      const comp = rec.component ? `${String(rec.component)}: ` : "";
      const extras = Object.entries(rec)
        .filter(([k]) => !SKIP.has(k))
        .map(([k, v]) => `${k}=${formatValue(v)}`)
        .join(" ");
      const tag = level === "INFO" ? "" : `${level} `;
      process.stderr.write(`[rosetta] ${tag}${comp}${String(rec.msg ?? "")}${extras ? "  " + extras : ""}\n`);
    },
  };
}

let root: Logger = makeLogger({});

function makeLogger(opts: LogOptions): Logger {
  const level = opts.quiet ? "warn" : opts.verbose ? "debug" : "info";
  const base = { level, base: undefined, timestamp: opts.format === "json" ? pino.stdTimeFunctions.isoTime : false };
  if (opts.format === "json") return pino(base, pino.destination({ fd: 2, sync: true }));
  return pino(base, prettyStderr());
}

/** Configure the process-wide logger (the CLI calls this once from its global flags). */
export function configureLogging(opts: LogOptions): void {
  root = makeLogger(opts);
}

/** A logger for one component (`gguf`, `layout`, `engine`, ...). */
export function logger(component: string): Logger {
  return root.child({ component });
}
