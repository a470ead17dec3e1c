/**
 * Every rosetta subcommand, one file each under src/cli/commands/. Each exports a yargs CommandModule.
 * Add a command: write its file, then add it to this list.
 */
import type { CommandModule } from "yargs";

import { inspectCommand } from "./InspectCommand.js";

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export const commands: CommandModule<any, any>[] = [inspectCommand];
