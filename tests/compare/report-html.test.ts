/**
 * The `--html` report (docs/report.md) opened in a real browser: Debian's chromium driven by
 * puppeteer-core (which downloads no browser). Every page is loaded with request interception on: any
 * request that is not file: or data: fails the test. Checks: no console errors, the verdict, the marked
 * first-divergence cell, hover and click showing that point's metrics, the step selector of a decode
 * pair, the parity page, and colours read back from a real screenshot: the PNG puppeteer returns is
 * decoded by the browser itself (drawn on a canvas, read with getImageData), so no PNG decoder is needed
 * and the pixels checked are the ones the screenshot holds. Colours are checked by hue class (red
 * dominant, green dominant, grey), not exact values, so shading changes do not break the test.
 * With REPORT_SCREENSHOTS=DIR (scripts/report-screenshots.js) it also writes the docs' screenshots and
 * the measured size and render time of a synthetic 28-layer x 18-point x 50-step result.
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";

import puppeteer, { type Browser, type Page } from "puppeteer-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { renderHtml } from "../../src/compare/report/html.js";
import { renderJson } from "../../src/compare/report/json.js";
import { COMPARISON_SCHEMA, type ComparisonResult, type PointResult, type PointStatus } from "../../src/compare/result.js";
import { renderParityHtml } from "../../src/parity/html.js";
import type { ParityRunResult } from "../../src/parity/types.js";
import { DEMO_TOKENS, writeDemoPair } from "../../src/pipeline/demo.js";
import { runComparison } from "../../src/pipeline/run-comparison.js";
import { readReport } from "../../src/cli/commands/ReportCommand.js";
import { getFixture } from "../fixtures/lib/index.js";

const CHROME = process.env.CHROMIUM ?? "/usr/bin/chromium";
const HAVE = existsSync(CHROME);
const SHOTS = process.env.REPORT_SCREENSHOTS;
if (!HAVE) console.warn(`report-html: SKIPPED: no browser at ${CHROME} (apt-get install chromium, or set CHROMIUM=/path/to/chromium)`);

let browser: Browser;
const dir = mkdtempSync(path.join(os.tmpdir(), "rosetta-html-"));

interface Opened {
  page: Page;
  errors: string[];
  blocked: string[];
  loadMs: number;
}

async function open(html: string, name: string, width = 1300): Promise<Opened> {
  const file = path.join(dir, name);
  writeFileSync(file, html);
  const page = await browser.newPage();
  await page.setViewport({ width, height: 900 });
  const errors: string[] = [];
  const blocked: string[] = [];
  page.on("console", (m) => {
    if (m.type() === "error") errors.push(m.text());
  });
  page.on("pageerror", (e) => errors.push(String(e)));
  await page.setRequestInterception(true);
  page.on("request", (req) => {
    const u = req.url();
    if (u.startsWith("file:") || u.startsWith("data:")) void req.continue();
    else {
      blocked.push(u);
      void req.abort();
    }
  });
  const t0 = performance.now();
  await page.goto(`file://${file}`, { waitUntil: "load" });
  await page.waitForSelector("body[data-ready='1']", { timeout: 30_000 });
  return { page, errors, blocked, loadMs: performance.now() - t0 };
}

/** Pixels of a real screenshot of `sel`, decoded by the browser: [r,g,b] at points relative to the element. */
async function pixelsOf(page: Page, sel: string, at: { x: number; y: number }[]): Promise<number[][]> {
  const png = (await (await page.$(sel))!.screenshot({ type: "png" })) as Uint8Array;
  const b64 = Buffer.from(png).toString("base64");
  return page.evaluate(
    async (data: string, pts: { x: number; y: number }[]) => {
      const img = new Image();
      img.src = `data:image/png;base64,${data}`;
      await img.decode();
      const c = document.createElement("canvas");
      c.width = img.width;
      c.height = img.height;
      const g = c.getContext("2d")!;
      g.drawImage(img, 0, 0);
      return pts.map((p) => Array.from(g.getImageData(Math.round(p.x), Math.round(p.y), 1, 1).data.slice(0, 3)));
    },
    b64,
    at,
  );
}

/** The centre of a cell (and a point on its edge) relative to the heatmap's svg. */
async function cellPoint(page: Page, key: string, step: number, edge = false): Promise<{ x: number; y: number }> {
  return page.evaluate(
    (k: string, s: number, e: boolean) => {
      const svg = document.getElementById("map-svg")!.getBoundingClientRect();
      const r = document.querySelector(`#map-svg rect.cell[data-key="${k}"][data-step="${s}"]`)!.getBoundingClientRect();
      return e ? { x: r.left - svg.left + 1.5, y: r.top - svg.top + r.height / 2 } : { x: r.left - svg.left + r.width / 2, y: r.top - svg.top + r.height / 2 };
    },
    key,
    step,
    edge,
  );
}

const isRed = ([r, g, b]: number[]) => r > 100 && r > g + 60 && r > b + 60;
const isGreen = ([r, g, b]: number[]) => g > r + 30 && g > b + 30;
const isGrey = ([r, g, b]: number[]) => Math.abs(r - g) < 12 && Math.abs(g - b) < 12;
const isDark = ([r, g, b]: number[]) => r < 70 && g < 70 && b < 70;

function fmtLike(x: number): string {
  if (x === 0) return "0";
  if (Math.abs(x) >= 1e4 || Math.abs(x) < 1e-3) return x.toExponential(2).replace(/\.?0+e/, "e");
  return String(Number(x.toPrecision(4)));
}

describe.skipIf(!HAVE)("--html report in headless Chromium", () => {
  let demo: ComparisonResult;
  let drift: ComparisonResult;

  beforeAll(async () => {
    browser = await puppeteer.launch({ executablePath: CHROME, args: ["--no-sandbox"], headless: true });
    const files = await writeDemoPair();
    try {
      demo = await runComparison({ a: { path: files.apr }, b: { path: files.gguf }, tokens: DEMO_TOKENS });
    } finally {
      files.cleanup();
    }
    const q = await getFixture("llama", "Q4_K_M");
    const f = await getFixture("llama", "F32");
    drift = await runComparison({ a: { path: q }, b: { path: f }, prompt: "Once upon a time", gen: 20, threads: 2 });
  });
  afterAll(async () => {
    await browser?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("demo pair: verdict, the marked first divergence, hover and click show the point's metrics, no errors, no network", async () => {
    const { page, errors, blocked } = await open(renderHtml(demo), "demo.html");
    expect(demo.verdict).toBe("DIVERGED");
    expect(await page.$eval("#verdict", (e) => e.textContent)).toBe("DIVERGED");
    const fd = demo.firstDivergence!;
    expect(await page.$eval("#first-cell", (e) => e.getAttribute("data-key"))).toBe(fd.key);
    expect(await page.$eval("#first-divergence", (e) => e.textContent)).toContain(fd.key);
    expect(await page.$eval(".diagnosis", (e) => e.textContent)).toContain(demo.diagnosis!.title);
    // the detail panel opens on the first divergence; hovering another cell shows that one's metrics
    expect(await page.$eval("#detail", (e) => e.getAttribute("data-key"))).toBe(fd.key);
    const other = demo.points.find((p) => p.step === 0 && p.status === "diverged" && p.key !== fd.key && p.all)!;
    await page.hover(`#map-svg rect.cell[data-key="${other.key}"]`);
    const tipText = await page.$eval("#tip", (e) => e.textContent ?? "");
    expect(tipText).toContain(other.key);
    expect(tipText).toContain(`nmse =${fmtLike(other.all!.nmse!)}`.replace(" =", " ="));
    expect(await page.$eval("#tip", (e) => (e as HTMLElement).hidden)).toBe(false);
    // click pins it in the detail panel with its metrics
    await page.click(`#map-svg rect.cell[data-key="${other.key}"]`);
    await page.mouse.move(0, 0);
    expect(await page.$eval("#detail", (e) => e.getAttribute("data-key"))).toBe(other.key);
    const detail = await page.$eval("#detail", (e) => e.textContent ?? "");
    expect(detail).toContain(fmtLike(other.all!.nmse!));
    expect(detail).toContain(fmtLike(other.all!.maxAbs!));
    expect(await page.$$eval("#detail svg.strip rect.tok", (e) => e.length)).toBe(other.perToken?.length ?? 0);
    // full tensors: the histogram of the differences and the worst elements, as the comparison computed them
    expect(other.diff, "the demo's points carry element detail (full tensors, step 0)").toBeDefined();
    if (other.diff && other.diff.differing > 0) {
      expect(detail).toContain(`${other.diff.differing} element(s) differ`);
      expect(await page.$$eval("#detail svg.hist rect", (e) => e.length)).toBe(other.diff.hist.length);
      expect(await page.$$eval("#detail table.worst tr", (e) => e.length)).toBe(1 + other.diff.worst.length);
      expect(detail).toContain(`[${other.diff.worst[0].index.join(", ")}]`);
    }
    expect(await page.$eval("#weights-table", (e) => e.textContent)).toContain("transposed");
    expect(errors).toEqual([]);
    expect(blocked).toEqual([]);
    await page.close();
  });

  it("demo pair: colours of known cells in a real screenshot (red diverged, green match, grey/pale absent, black first-divergence frame)", async () => {
    const { page } = await open(renderHtml(demo), "demo-colours.html");
    const fd = demo.firstDivergence!;
    const match = demo.points.find((p) => p.step === 0 && p.status === "match" && p.layer !== null)!;
    const div = demo.points.find((p) => p.step === 0 && p.status === "diverged" && p.key !== fd.key)!;
    const pts = [await cellPoint(page, match.key, 0), await cellPoint(page, div.key, 0), await cellPoint(page, fd.key, 0, true)];
    // a cell with no point: the output row under a layer point
    const absent = await page.evaluate(() => {
      const svg = document.getElementById("map-svg")!.getBoundingClientRect();
      const r = document.querySelector('#map-svg rect.cell[data-status="absent"]')!.getBoundingClientRect();
      return { x: r.left - svg.left + r.width / 2, y: r.top - svg.top + r.height / 2 };
    });
    const [m, d, edge, abs] = await pixelsOf(page, "#map-svg", [...pts, absent]);
    expect(isGreen(m), `match cell ${match.key}: rgb ${m}`).toBe(true);
    expect(isRed(d), `diverged cell ${div.key}: rgb ${d}`).toBe(true);
    expect(isDark(edge), `first divergence frame: rgb ${edge}`).toBe(true);
    expect(isGrey(abs) && abs[0] > 200, `absent cell: rgb ${abs}`).toBe(true);
    if (SHOTS) {
      mkdirSync(SHOTS, { recursive: true });
      await page.setViewport({ width: 1100, height: 1000 });
      await page.screenshot({ path: path.join(SHOTS, "report-demo.png") as `${string}.png`, clip: { x: 0, y: 0, width: 1100, height: 1000 }, type: "png" });
    }
    await page.close();
  });

  it("decode-drift pair (Q4_K_M vs F32, 20 steps): a step selector, the overview, the map follows the step", async () => {
    const { page, errors, blocked } = await open(renderHtml(drift), "drift.html");
    expect(await page.$eval("#verdict", (e) => e.textContent)).toBe(drift.verdict);
    const steps = [...new Set(drift.points.map((p) => p.step))];
    expect(steps.length).toBe(21);
    expect(await page.$eval("#step", (e) => (e as HTMLInputElement).max)).toBe("20");
    expect(await page.$("#overview-svg")).not.toBeNull();
    if (drift.firstDivergence) expect(await page.$eval("#first-cell", (e) => e.getAttribute("data-key"))).toBe(drift.firstDivergence.key);
    // move to step 7: every cell of the map is a step-7 point
    await page.$eval("#step", (e) => {
      (e as HTMLInputElement).value = "7";
      e.dispatchEvent(new Event("input"));
    });
    const cellSteps = await page.$$eval("#map-svg rect.cell[data-step]", (es) => [...new Set(es.map((e) => e.getAttribute("data-step")))]);
    expect(cellSteps).toEqual(["7"]);
    expect(await page.$eval("#step-label", (e) => e.textContent)).toContain("step 7");
    // a cell's colour class matches its status in a screenshot
    const p7 = drift.points.find((p) => p.step === 7 && p.layer === 0 && p.status !== "only-a" && p.status !== "only-b")!;
    const [px] = await pixelsOf(page, "#map-svg", [await cellPoint(page, p7.key, 7)]);
    if (p7.status === "match") expect(isGreen(px), `rgb ${px}`).toBe(true);
    if (p7.status === "diverged") expect(isRed(px), `rgb ${px}`).toBe(true);
    if (p7.status === "drift") expect(px[0] > 180 && px[1] > 120 && px[2] < 90, `amber rgb ${px}`).toBe(true);
    expect(errors).toEqual([]);
    expect(blocked).toEqual([]);
    if (SHOTS) {
      await page.$eval("#step", (e) => {
        (e as HTMLInputElement).value = "0";
        e.dispatchEvent(new Event("input"));
      });
      await page.setViewport({ width: 1100, height: 1000 });
      const last = drift.points.filter((p) => p.step === 0 && p.layer !== null && p.perToken).at(-1)!;
      await page.click(`#map-svg rect.cell[data-key="${last.key}"][data-step="0"]`);
      await page.mouse.move(0, 0);
      const top = await page.$eval("h2", (e) => (e as HTMLElement).offsetTop - 8);
      await page.screenshot({ path: path.join(SHOTS, "report-decode-drift.png") as `${string}.png`, clip: { x: 0, y: top, width: 1100, height: 1000 }, type: "png" });
    }
    await page.close();
  });

  it("rosetta report: a saved JSON report renders the same page", async () => {
    const file = path.join(dir, "saved.json");
    writeFileSync(file, renderJson(demo));
    const rep = readReport(file);
    expect(rep.kind).toBe("comparison");
    const { page, errors } = await open(renderHtml((rep as { r: ComparisonResult }).r), "saved.html");
    expect(await page.$eval("#verdict", (e) => e.textContent)).toBe("DIVERGED");
    expect(await page.$eval("#first-cell", (e) => e.getAttribute("data-key"))).toBe(demo.firstDivergence!.key);
    expect(errors).toEqual([]);
    await page.close();
  });

  it("parity page: failing rows first, top-1 agreement, top-k overlap and logit deltas", async () => {
    const band = { quant: "Q4_0", numerics: "ggml" as const, topDelta: 0.05, klMax: 1e-3, klMean: 1e-4, nearTieGap: 0.01, provisional: true, basis: "test" };
    const base = { model: "m.gguf", quant: "Q4_0", numerics: "ggml" as const, isa: "avx2", bucket: "short", promptTokens: 5, genTokens: 10, positions: 10, nearTies: 0, setTies: 0, kl: { mean: 1e-5, p95: 1e-5, max: 2e-5 }, band, promptErrors: [], ms: { reference: 1, rosetta: 1 } };
    const run: ParityRunResult = {
      format: "rosetta.parity",
      version: 1,
      shard: null,
      settings: { tokens: 10, top: 5 },
      manifest: null,
      isa: [],
      skipped: [],
      passed: false,
      results: [
        { ...base, promptIdx: 0, promptId: "ok-prompt", top1Match: 10, failures: 0, maxTopDelta: 0.01, maxFullDelta: 0.02, details: [], passed: true },
        {
          ...base,
          promptIdx: 1,
          promptId: "bad-prompt",
          top1Match: 9,
          failures: 1,
          maxTopDelta: 0.3,
          maxFullDelta: 0.4,
          passed: false,
          details: [{ tokenIdx: 3, refToken: 42, top1: "flip", setTie: false, setEqual: false, topDelta: 0.3, fullDelta: 0.4, kl: 0.01, rosetta: { ids: [7, 42, 1, 2, 3], logits: [5, 4.9, 1, 0, -1] }, llamacpp: { ids: [42, 7, 1, 2, 9], logits: [5, 4.8, 1, 0, -1] }, reasons: ["top-1 flip"] }],
        },
      ],
    };
    const { page, errors, blocked } = await open(renderParityHtml(run), "parity.html");
    expect(await page.$eval("#verdict", (e) => e.textContent)).toBe("FAIL");
    const first = await page.$eval("#parity-table tr[data-prompt]", (e) => e.getAttribute("data-prompt"));
    expect(first).toBe("bad-prompt");
    const text = await page.$eval("#parity-table", (e) => e.textContent ?? "");
    expect(text).toContain("9/10");
    expect(text).toContain("4/5"); // top-k overlap of the failing position
    expect(text).toContain("top-1 flip");
    expect(errors).toEqual([]);
    expect(blocked).toEqual([]);
    await page.close();
  });

  it("a synthetic 28-layer x 18-point x 50-step result: file size and render time", async () => {
    const r = synthetic(28, 18, 50);
    const t0 = performance.now();
    const html = renderHtml(r);
    const renderMs = performance.now() - t0;
    const { page, errors, loadMs } = await open(html, "big.html");
    const pageMs = await page.evaluate(() => performance.now());
    // switching steps redraws one map (504 cells)
    const stepMs = await page.evaluate(() => {
      const e = document.getElementById("step") as HTMLInputElement;
      const t = performance.now();
      for (let i = 1; i <= 10; i++) {
        e.value = String(i);
        e.dispatchEvent(new Event("input"));
      }
      return (performance.now() - t) / 10;
    });
    expect(await page.$$eval("#map-svg rect.cell[data-step]", (e) => e.length)).toBe(28 * 18);
    expect(errors).toEqual([]);
    const mb = Buffer.byteLength(html) / 1e6;
    const line = `synthetic 28 layers x 18 points x 51 steps (${r.points.length} points): html ${mb.toFixed(2)} MB, renderHtml ${renderMs.toFixed(0)} ms, page load to drawn ${loadMs.toFixed(0)} ms (page clock ${pageMs.toFixed(0)} ms), step switch ${stepMs.toFixed(1)} ms`;
    console.log(line);
    if (SHOTS) writeFileSync(path.join(SHOTS, "report-measure.txt"), line + "\n");
    expect(mb).toBeLessThan(15);
    expect(loadMs).toBeLessThan(20_000);
    await page.close();
  });
});

/** A result of `layers` layers x `pts` points x (steps + 1) steps, diverging from layer 20 of step 30. */
function synthetic(layers: number, pts: number, steps: number): ComparisonResult {
  const names = ["attn_norm", "q", "k", "v", "q_rope", "k_rope", "kq", "kq_softmax", "kqv", "attn_out", "ffn_inp", "ffn_norm", "ffn_gate", "ffn_up", "ffn_act", "ffn_down", "ffn_out", "l_out"].slice(0, pts);
  const points: PointResult[] = [];
  const gate = { threshold: 1e-3, band: 1e-2, bandId: "q4-vs-f32" };
  const m = (nmse: number, count: number) => ({ basis: "tensor" as const, count, maxAbs: Math.sqrt(nmse) * 3, meanAbs: Math.sqrt(nmse), nmse, sqnrDb: -10 * Math.log10(nmse), cosine: 1 - nmse / 2, nonfiniteA: 0, nonfiniteB: 0, meanDelta: 1e-4, stdDelta: 1e-4, l2Rel: nmse / 2, absmaxDelta: 1e-3 });
  for (let s = 0; s <= steps; s++) {
    const T = s === 0 ? 12 : 1;
    for (let l = 0; l < layers; l++)
      names.forEach((n, j) => {
        const nmse = 1e-6 * Math.pow(1.3, l) * (1 + j / 10) * (s >= 30 && l >= 20 ? 1e4 : 1);
        const status: PointStatus = nmse <= gate.threshold ? "match" : nmse <= gate.band ? "drift" : "diverged";
        points.push({ key: `blk.${l}.${n}`, point: n, layer: l, step: s, shapeA: [T, 256], shapeB: [T, 256], status, all: m(nmse, T * 256), last: m(nmse * 1.1, 256), gate, perToken: Array.from({ length: T }, (_, t) => nmse * (1 + t / 10)) });
      });
  }
  const first = points.find((p) => p.status === "diverged") ?? null;
  const counts = { match: 0, drift: 0, "summary-agree": 0, diverged: 0, nonfinite: 0, "sample-mismatch": 0, "only-a": 0, "only-b": 0 } as Record<PointStatus, number>;
  for (const p of points) counts[p.status]++;
  const side = (label: string) => ({ label, source: `${label}.gguf`, engine: "rosetta", settings: { numerics: "ggml" }, tokens: Array.from({ length: 12 }, (_, i) => i + 1), generated: Array.from({ length: steps }, (_, i) => 100 + i), forced: label === "A" });
  return { schema: COMPARISON_SCHEMA, version: 1, a: side("A"), b: side("B"), threshold: 1e-3, band: { id: "q4-vs-f32", nmse: 1e-2, provisional: false, basis: "synthetic" }, points, counts, firstDivergence: first, findings: [], diagnosis: null, verdict: first ? "DIVERGED" : "DRIFT" };
}
