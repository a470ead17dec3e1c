#!/usr/bin/env node
// rosetta's command-line entry point. The CLI lives in src/cli/ (compiled to dist/ by `npm install`).
import { main } from "../dist/src/cli/main.js";

// A reader that stops early (`rosetta ... --json - | head`) is not an error worth a stack trace.
process.stdout.on("error", (e) => {
  if (e.code === "EPIPE") process.exit(process.exitCode ?? 0);
  throw e;
});

main(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
});
