// Drives a page of `cargo codegraph export --format html` in headless Chromium through
// Playwright (playwright-core, pointed at the system's Chromium), as `tests/export.rs` asks:
//
//   node drive.cjs PLAYWRIGHT_CORE_DIR CHROMIUM PAGE.html PLAN.json
//
// PLAN: {"search": text, "expand": a node's label, "filter": an edge kind,
//        "screenshots": folder, "name": prefix}
// It prints one JSON object of what it saw; the Rust test asserts on it. It fails (exit 1) only
// when the page cannot be driven at all.
"use strict";
const fs = require("fs");
const path = require("path");
const [playwrightDir, chromiumPath, pagePath, planPath] = process.argv.slice(2);
const { chromium } = require(playwrightDir);
const plan = JSON.parse(fs.readFileSync(planPath, "utf8"));

async function main() {
  const browser = await chromium.launch({ executablePath: chromiumPath, headless: true, args: ["--no-sandbox"] });
  const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  const report = { errors: [], requests: [] };
  page.on("console", (msg) => { if (msg.type() === "error") report.errors.push(msg.text()); });
  page.on("pageerror", (err) => report.errors.push(String(err)));
  page.on("request", (req) => { if (!req.url().startsWith("file:")) report.requests.push(req.url()); });
  const shot = (suffix) => page.screenshot({ path: path.join(plan.screenshots, `${plan.name}-${suffix}.png`) });
  const started = Date.now();
  await page.goto("file://" + path.resolve(pagePath));
  await page.waitForSelector("html[data-ready=true]", { timeout: 30000 });
  report.wallToReadyMs = Date.now() - started;
  // Milliseconds from the start of navigation to the moment the picture was drawn and fitted.
  report.readyMs = await page.evaluate(() => window.codegraph.ready);
  report.nodes = await page.locator("#viewport > g.node:not(.item)").count();
  report.edges = await page.locator("#viewport path.edge").count();
  await shot("initial");

  // Search, take the first hit, read the panel.
  await page.fill("#search", plan.search);
  report.results = await page.locator("#results li").evaluateAll((lis) => lis.map((li) => li.dataset.label));
  await page.press("#search", "Enter");
  report.selected = await page.locator("#selected-label").textContent();
  report.selectedKind = await page.locator("#selected-kind").textContent();
  report.incoming = await page.locator("#incoming .kindgroup").evaluateAll((groups) =>
    Object.fromEntries(groups.map((g) => [g.dataset.kind, [...g.querySelectorAll("li[data-label]")].map((li) => li.dataset.label)])));
  report.outgoing = await page.locator("#outgoing .kindgroup").evaluateAll((groups) =>
    Object.fromEntries(groups.map((g) => [g.dataset.kind, [...g.querySelectorAll("li[data-label]")].map((li) => li.dataset.label)])));
  report.itemsAfterSearch = await page.locator("#viewport g.item").count();
  await shot("search");
  // The same as a small JPEG, for a README.
  await page.screenshot({ path: path.join(plan.screenshots, `${plan.name}-search.jpg`), type: "jpeg", quality: 70 });
  // Back to the whole picture: collapse what the search opened.
  if (await page.locator("#collapse-parent").count()) await page.click("#collapse-parent");
  report.itemsAfterCollapseParent = await page.locator("#viewport g.item").count();

  // Expand a node through its panel, then collapse it.
  const node = page.locator(`#viewport > g.node[data-label="${plan.expand}"]`);
  report.expandFound = await node.count();
  if (report.expandFound) {
    await node.dispatchEvent("click");
    report.expandButton = await page.locator("#expand").textContent();
    await page.click("#expand");
    report.expandedItems = await page.locator("#viewport g.item").evaluateAll((gs) => gs.map((g) => g.dataset.label));
    report.expandedBoxes = await page.locator("#viewport g.expanded").count();
    await shot("expanded");
    await page.click("#expand");
    report.itemsAfterCollapse = await page.locator("#viewport g.item").count();
    report.expandedBoxesAfterCollapse = await page.locator("#viewport g.expanded").count();
  }

  // The edge-kind filter.
  const kindEdges = () => page.locator(`#viewport path.edge[data-kind="${plan.filter}"]`).count();
  report.filterBefore = await kindEdges();
  report.edgesBefore = await page.locator("#viewport path.edge").count();
  await page.click(`#legend input[data-kind="${plan.filter}"]`);
  report.filterAfter = await kindEdges();
  report.edgesAfter = await page.locator("#viewport path.edge").count();
  await page.click(`#legend input[data-kind="${plan.filter}"]`);
  report.filterRestored = await kindEdges();

  // Zoom with the wheel and pan by dragging change the drawing's transform.
  const before = await page.getAttribute("#viewport", "transform");
  const box = await page.locator("#canvas").boundingBox();
  await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
  await page.mouse.wheel(0, -400);
  const zoomed = await page.getAttribute("#viewport", "transform");
  await page.mouse.down();
  await page.mouse.move(box.x + box.width / 2 + 120, box.y + box.height / 2 + 40, { steps: 4 });
  await page.mouse.up();
  const panned = await page.getAttribute("#viewport", "transform");
  report.transforms = [before, zoomed, panned];
  await page.click("#fit");
  await shot("final");
  await browser.close();
  process.stdout.write(JSON.stringify(report) + "\n");
}

main().catch((err) => {
  process.stderr.write(String(err && err.stack ? err.stack : err) + "\n");
  process.exit(1);
});
