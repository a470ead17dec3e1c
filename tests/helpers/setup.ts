// vitest setup: in-process library calls log only warnings (CLI tests spawn the real binary and see
// everything). A test that checks log output configures logging itself.
import { configureLogging } from "../../src/util/log.js";

configureLogging({ quiet: true });
