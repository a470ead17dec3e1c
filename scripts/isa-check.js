#!/usr/bin/env node
// `npm run check:isa`: builds bench/isa-check.cc (scripts/kernel-tool.js) into build/isa-check, a static
// binary, and runs it: every ISA path this CPU has against the scalar reference, bit for bit (see the
// file). Copy build/isa-check to another machine to check the paths there.
import { buildKernelTool, runKernelTool } from "./kernel-tool.js";

runKernelTool(buildKernelTool("isa-check", { staticLink: true }), []);
