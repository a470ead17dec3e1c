// vitest setup: in-process library calls log only warnings (CLI tests spawn the real binary and see
// everything). A test that checks log output configures logging itself.
import { configureLogging } from "../../src/util/log.js";

configureLogging({ quiet: true });

// the checksum cache (src/util/file-digest.ts) of a test run lives in one temp folder, never in ~/.cache
import { mkdtempSync } from "node:fs";
import os from "node:os";
import path from "node:path";

process.env.ROSETTA_CACHE_DIR ??= mkdtempSync(path.join(os.tmpdir(), "rosetta-cache-"));
