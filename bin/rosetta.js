#!/usr/bin/env node
// rosetta's command-line entry point. The CLI lives in src/cli/ (compiled to dist/ by `npm install`).
import { main } from "../dist/src/cli/main.js";

main(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
});
