// Parses Mermaid files with Mermaid's own parser (the `mermaid` package from npm, under jsdom,
// since it expects a DOM), for `tests/export.rs`:
//
//   node mermaid-parse.mjs NODE_MODULES_DIR FILE...
//
// Prints one JSON line per file: {"file", "ok", "type"} or {"file", "ok": false, "error"}.
import fs from "fs";
import path from "path";
import { createRequire } from "module";
import { pathToFileURL } from "url";

const [modules, ...files] = process.argv.slice(2);
const require = createRequire(path.join(modules, "package.json"));
const { JSDOM } = require("jsdom");
const dom = new JSDOM("<!DOCTYPE html><body></body>");
globalThis.window = dom.window;
globalThis.document = dom.window.document;
const manifest = JSON.parse(fs.readFileSync(path.join(modules, "mermaid", "package.json"), "utf8"));
const entry = path.join(modules, "mermaid", manifest.exports["."].import);
const { default: mermaid } = await import(pathToFileURL(entry).href);
// Mermaid refuses more than 500 edges by default (a rendering limit, not a syntax rule).
mermaid.initialize({ startOnLoad: false, maxEdges: 1000000, maxTextSize: 100000000 });
for (const file of files) {
  const text = fs.readFileSync(file, "utf8");
  try {
    const parsed = await mermaid.parse(text);
    console.log(JSON.stringify({ file, ok: true, type: parsed.diagramType }));
  } catch (err) {
    console.log(JSON.stringify({ file, ok: false, error: String((err && err.message) || err) }));
  }
}
