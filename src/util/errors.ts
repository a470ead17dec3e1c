/**
 * Two kinds of error. A RosettaError is the user's problem (a bad file, flag or input) or a stated
 * limitation: printed as one line, no stack, with its exit code. Anything else is a bug in rosetta:
 * printed with its stack under an "internal error" banner, exit code 3.
 */
/** Control characters (newlines first) escaped, so a message stays one line on any terminal. */
export function oneLine(s: string): string {
  // eslint-disable-next-line no-control-regex
  return s.replace(/[\u0000-\u001f\u007f]/g, (c) => (c === "\n" ? "\\n" : c === "\r" ? "\\r" : c === "\t" ? "\\t" : `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`));
}

export class RosettaError extends Error {
  readonly code: string;
  readonly exitCode: number;
  constructor(message: string, code = "ROSETTA_ERROR", exitCode = 2) {
    // one line, whatever a file put in the names it quotes (a tensor name holding "\n"; fuzz finding)
    super(oneLine(message));
    this.name = new.target.name;
    this.code = code;
    this.exitCode = exitCode;
  }
}

/** A malformed, truncated, hostile or unreadable input file, or wrong flags. Exit code 2. */
export class InputError extends RosettaError {
  constructor(message: string, code = "ROSETTA_BAD_INPUT") {
    super(message, code, 2);
  }
}

/** Well-formed input that rosetta does not handle (a type, architecture, format version). Exit code 2. */
export class UnsupportedError extends RosettaError {
  constructor(message: string, code = "ROSETTA_UNSUPPORTED") {
    super(message, code, 2);
  }
}

/** A required optional component is missing (e.g. the llama.cpp packages). Exit code 2. */
export class MissingComponentError extends RosettaError {
  constructor(message: string, code = "ROSETTA_MISSING_COMPONENT") {
    super(message, code, 2);
  }
}

/** Wrong flags or arguments on the command line. Exit code 2. */
export class UsageError extends RosettaError {
  constructor(message: string) {
    super(message, "ROSETTA_USAGE", 2);
  }
}

export const EXIT = { OK: 0, DIVERGENCE: 1, INPUT: 2, INTERNAL: 3 } as const;
