/**
 * Every rosetta subcommand, one file each under src/cli/commands/. Each exports a yargs CommandModule.
 * Add a command: write its file, then add it to this list.
 */
import type { CommandModule } from "yargs";

import { compareCommand } from "./CompareCommand.js";
import { convertCommand } from "./ConvertCommand.js";
import { demoCommand } from "./DemoCommand.js";
import { diffWeightsCommand } from "./DiffWeightsCommand.js";
import { inspectCommand } from "./InspectCommand.js";
import { parityCommand } from "./ParityCommand.js";
import { tokenizeCommand } from "./TokenizeCommand.js";
import { traceCommand } from "./TraceCommand.js";
import { bisectCommand } from "./BisectCommand.js";
import { importCommand } from "./ImportCommand.js";
import { reportCommand } from "./ReportCommand.js";
import { validateTraceCommand } from "./ValidateTraceCommand.js";
import { sweepCommand } from "./SweepCommand.js";

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export const commands: CommandModule<any, any>[] = [convertCommand, inspectCommand, traceCommand, tokenizeCommand, parityCommand, diffWeightsCommand, demoCommand, bisectCommand, importCommand, validateTraceCommand, reportCommand, sweepCommand, compareCommand];
