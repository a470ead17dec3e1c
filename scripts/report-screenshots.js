#!/usr/bin/env node
/**
 * Regenerates the screenshots of the HTML report in docs/img (report-demo.png, report-decode-drift.png)
 * and the measured size and render time of a synthetic 28-layer x 18-point x 50-step result
 * (docs/img/report-measure.txt, quoted in docs/report.md). It runs tests/compare/report-html.test.ts with
 * REPORT_SCREENSHOTS set: the same pages the tests check, in the same headless Chromium (Debian's
 * chromium; CHROMIUM=/path overrides /usr/bin/chromium). Then it prints each PNG's size (keep each under 200 KB).
 */
import { spawnSync } from "node:child_process";
import { readdirSync, statSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const out = path.join(root, "docs", "img");
const r = spawnSync("npx", ["vitest", "run", "tests/compare/report-html.test.ts"], { cwd: root, stdio: "inherit", env: { ...process.env, REPORT_SCREENSHOTS: out } });
if (r.status !== 0) process.exit(r.status ?? 1);
let big = false;
for (const f of readdirSync(out).filter((f) => f.startsWith("report-"))) {
  const kb = statSync(path.join(out, f)).size / 1024;
  console.log(`${path.join("docs/img", f)}: ${kb.toFixed(0)} KB`);
  if (f.endsWith(".png") && kb > 200) big = true;
}
if (big) {
  console.error("a screenshot is over 200 KB: make the page shorter or the viewport smaller");
  process.exit(1);
}
