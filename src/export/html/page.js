// cargo-codegraph's HTML view. The picture is laid out by `cargo codegraph export --format html`
// (positions are in the data); this script draws it as SVG and makes it interactive: pan and
// zoom, search over canonical paths, a panel with a node's properties and its edges in and out
// by kind, expand a node into what it holds (a module into its items) and collapse it back,
// and a filter on edge kinds. It loads nothing: everything is in this file.
(function () {
  "use strict";
  const NS = "http://www.w3.org/2000/svg";
  const data = JSON.parse(document.getElementById("codegraph-data").textContent);
  const kinds = data.kinds;
  const top = data.nodes;
  const clusters = data.clusters;
  const detail = data.detail;
  const items = detail
    ? detail.nodes.map((n, index) => ({ index, id: n[0], kind: n[1], label: n[2], parent: n[3], props: n[4] }))
    : [];
  // What each node holds, in order; a node's own vertex (a module's, at item level) is drawn as
  // the node itself.
  const held = top.map(() => []);
  const own = new Map();
  for (const item of items) {
    if (top[item.parent].id === item.id) own.set(item.index, item.parent);
    else held[item.parent].push(item.index);
  }
  const topIn = top.map(() => []);
  const topOut = top.map(() => []);
  for (const e of data.edges) { topOut[e[0]].push(e); topIn[e[1]].push(e); }
  const itemIn = items.map(() => []);
  const itemOut = items.map(() => []);
  if (detail) for (const e of detail.edges) { itemOut[e[0]].push(e); itemIn[e[1]].push(e); }

  const hiddenKinds = new Set();
  const expanded = [];
  let selected = null; // { t: "n" | "i", i }
  const view = { scale: 1, x: 0, y: 0 };

  const svg = document.getElementById("canvas");
  const viewport = document.getElementById("viewport");
  const markers = document.getElementById("markers");
  const details = document.getElementById("details");
  const search = document.getElementById("search");
  const results = document.getElementById("results");

  const CHAR = 7.2, ITEM_H = 20, GAP = 4, PAD = 10, TITLE = 22, MAX_LABEL = 48;

  function el(name, attrs, parent) {
    const node = document.createElementNS(NS, name);
    for (const key in attrs) node.setAttribute(key, attrs[key]);
    if (parent) parent.appendChild(node);
    return node;
  }
  function html(tag, attrs, text) {
    const node = document.createElement(tag);
    for (const key in attrs || {}) node.setAttribute(key, attrs[key]);
    if (text !== undefined) node.textContent = text;
    return node;
  }
  function shown(label) {
    return label.length <= MAX_LABEL ? label : "…" + label.slice(label.length - MAX_LABEL + 1);
  }
  function base(label) { return label.replace(/ \([^)]*\)$/, ""); }
  function shortName(item) {
    const prefix = base(top[item.parent].label) + "::";
    return item.label.startsWith(prefix) ? item.label.slice(prefix.length) : item.label;
  }

  // The grid of items inside an expanded node, relative to its corner.
  const grids = new Map();
  function grid(t) {
    if (grids.has(t)) return grids.get(t);
    const list = held[t];
    const cols = Math.max(1, Math.ceil(Math.sqrt(list.length / 4)));
    const cellW = Math.max(60, ...list.map((i) => shown(shortName(items[i])).length * CHAR + 16));
    const rows = Math.ceil(list.length / cols);
    const cells = list.map((item, k) => ({
      item, x: PAD + (k % cols) * (cellW + GAP), y: TITLE + Math.floor(k / cols) * (ITEM_H + GAP), w: cellW, h: ITEM_H,
    }));
    const w = Math.max(top[t].w, 2 * PAD + cols * cellW + (cols - 1) * GAP);
    const h = TITLE + rows * (ITEM_H + GAP) + PAD;
    const g = { cells, w, h };
    grids.set(t, g);
    return g;
  }

  // Positions with the expanded nodes opened: each expansion inserts a vertical strip at the
  // node's right edge and a horizontal one at its bottom edge, moving whatever lies beyond them
  // and stretching the boxes that span them, so nothing that did not overlap comes to overlap.
  function geometry() {
    const nodes = top.map((n) => ({ x: n.x, y: n.y, w: n.w, h: n.h }));
    const boxes = clusters.map((c) => ({ x: c.x, y: c.y, w: c.w, h: c.h }));
    for (const t of expanded) {
      const r = nodes[t];
      const g = grid(t);
      const dw = Math.max(0, g.w - r.w), dh = Math.max(0, g.h - r.h);
      const x1 = r.x + r.w, y1 = r.y + r.h;
      nodes.forEach((n, i) => {
        if (i === t) return;
        if (n.x >= x1) n.x += dw;
        if (n.y >= y1) n.y += dh;
      });
      for (const b of boxes) {
        const right = b.x + b.w, bottom = b.y + b.h;
        if (b.x >= x1) b.x += dw;
        if (b.y >= y1) b.y += dh;
        b.w = right + (right >= x1 ? dw : 0) - b.x;
        b.h = bottom + (bottom >= y1 ? dh : 0) - b.y;
      }
      r.w += dw;
      r.h += dh;
    }
    const itemRects = new Map();
    for (const t of expanded) {
      const r = nodes[t];
      for (const c of grid(t).cells) itemRects.set(c.item, { x: r.x + c.x, y: r.y + c.y, w: c.w, h: c.h });
    }
    return { nodes, boxes, itemRects };
  }

  // The edges to draw: the view's between closed nodes, and the finer ones wherever an end is
  // in an open node (each end drawn at its item when open, else at the node holding it).
  function visibleEdges() {
    const open = new Set(expanded);
    const drawn = new Map();
    function add(a, b, kind, count) {
      if (a.t === b.t && a.i === b.i) return;
      const key = a.t + a.i + ">" + b.t + b.i + ":" + kind;
      const seen = drawn.get(key);
      if (seen) seen.count += count;
      else drawn.set(key, { a, b, kind, count });
    }
    for (const e of data.edges) {
      if (hiddenKinds.has(e[2]) || open.has(e[0]) || open.has(e[1])) continue;
      add({ t: "n", i: e[0] }, { t: "n", i: e[1] }, e[2], e[3]);
    }
    if (detail && open.size) {
      const end = (item) => (open.has(item.parent) && !own.has(item.index) ? { t: "i", i: item.index } : { t: "n", i: item.parent });
      for (const e of detail.edges) {
        if (hiddenKinds.has(e[2])) continue;
        const a = items[e[0]], b = items[e[1]];
        if (!open.has(a.parent) && !open.has(b.parent)) continue;
        add(end(a), end(b), e[2], e[3]);
      }
    }
    return [...drawn.values()];
  }

  function curve(a, b) {
    const sy = a.y + a.h / 2, ty = b.y + b.h / 2;
    if (b.x >= a.x + a.w || a.x >= b.x + b.w) {
      const forward = b.x >= a.x + a.w;
      const sx = forward ? a.x + a.w : a.x, tx = forward ? b.x : b.x + b.w;
      const dx = (tx - sx) / 2;
      return `M${sx},${sy} C${sx + dx},${sy} ${tx - dx},${ty} ${tx},${ty}`;
    }
    const sx = a.x + a.w, tx = b.x + b.w, bulge = Math.max(sx, tx) + 40;
    return `M${sx},${sy} C${bulge},${sy} ${bulge},${ty} ${tx},${ty}`;
  }

  function isSelected(t, i) { return selected && selected.t === t && selected.i === i; }

  function draw() {
    const geo = geometry();
    viewport.textContent = "";
    const open = new Set(expanded);
    clusters.forEach((c, i) => {
      const b = geo.boxes[i];
      const g = el("g", { class: c.parent === null ? "cluster" : "cluster inner", "data-id": c.id }, viewport);
      el("rect", { x: b.x, y: b.y, width: b.w, height: b.h, rx: 6 }, g);
      el("text", { x: b.x + 8, y: b.y + 15 }, g).textContent = shown(c.label);
    });
    const edgeLayer = el("g", { class: "edges" }, viewport);
    const rectOf = (end) => (end.t === "n" ? geo.nodes[end.i] : geo.itemRects.get(end.i));
    for (const edge of visibleEdges()) {
      const kind = kinds[edge.kind];
      const hot = selected && ((edge.a.t === selected.t && edge.a.i === selected.i) || (edge.b.t === selected.t && edge.b.i === selected.i));
      const attrs = {
        class: "edge" + (hot ? " hot" : selected ? " dim" : ""),
        d: curve(rectOf(edge.a), rectOf(edge.b)),
        stroke: kind.colour,
        "stroke-width": kind.style === "bold" ? 2.5 : Math.min(1 + Math.log2(edge.count) / 2, 4),
        "marker-end": `url(#m${edge.kind})`,
        "data-kind": kind.name,
      };
      if (kind.style === "dashed") attrs["stroke-dasharray"] = "6 3";
      if (kind.style === "dotted") attrs["stroke-dasharray"] = "2 2";
      const path = el("path", attrs, edgeLayer);
      el("title", {}, path).textContent = kind.name + (edge.count > 1 ? " ×" + edge.count : "");
    }
    top.forEach((n, i) => {
      const r = geo.nodes[i];
      if (open.has(i)) {
        const g = el("g", { class: "expanded node" + (isSelected("n", i) ? " selected" : ""), "data-id": n.id, "data-label": n.label }, viewport);
        el("rect", { class: "box", x: r.x, y: r.y, width: r.w, height: r.h, rx: 6 }, g);
        el("text", { x: r.x + 8, y: r.y + 15 }, g).textContent = shown(n.label) + " ▾";
        g.addEventListener("click", (ev) => { ev.stopPropagation(); select({ t: "n", i }); });
        g.addEventListener("dblclick", (ev) => { ev.stopPropagation(); toggle(i); });
        for (const c of grid(i).cells) {
          const item = items[c.item], ir = geo.itemRects.get(c.item);
          const ig = el("g", { class: "item node" + (isSelected("i", c.item) ? " selected" : ""), "data-id": item.id, "data-label": item.label, "data-kind": item.kind }, viewport);
          el("rect", { x: ir.x, y: ir.y, width: ir.w, height: ir.h }, ig);
          el("text", { x: ir.x + 6, y: ir.y + 14 }, ig).textContent = shown(shortName(item));
          el("title", {}, ig).textContent = item.kind + " " + item.label;
          ig.addEventListener("click", (ev) => { ev.stopPropagation(); select({ t: "i", i: c.item }); });
        }
        return;
      }
      const cls = ["node", n.kind === "extern" ? "extern" : "", held[i].length ? "expandable" : "", isSelected("n", i) ? "selected" : ""];
      const g = el("g", { class: cls.join(" ").trim(), "data-id": n.id, "data-label": n.label, "data-kind": n.kind }, viewport);
      el("rect", { x: r.x, y: r.y, width: r.w, height: r.h }, g);
      el("text", { x: r.x + 10, y: r.y + 16 }, g).textContent = shown(n.label);
      el("title", {}, g).textContent = n.kind + " " + n.label + (held[i].length ? " (double-click to expand)" : "");
      g.addEventListener("click", (ev) => { ev.stopPropagation(); select({ t: "n", i }); });
      g.addEventListener("dblclick", (ev) => { ev.stopPropagation(); if (held[i].length) toggle(i); });
    });
    const shownEdges = edgeLayer.childNodes.length;
    document.getElementById("summary").textContent =
      `${data.level} level: ${top.length} nodes, ${shownEdges} edges drawn` + (expanded.length ? `, ${expanded.length} expanded` : "");
    applyView();
  }

  function applyView() {
    viewport.setAttribute("transform", `translate(${view.x},${view.y}) scale(${view.scale})`);
  }

  function bounds() {
    const geo = geometry();
    let w = data.width, h = data.height;
    for (const r of geo.nodes) { w = Math.max(w, r.x + r.w); h = Math.max(h, r.y + r.h); }
    for (const r of geo.boxes) { w = Math.max(w, r.x + r.w); h = Math.max(h, r.y + r.h); }
    return { w, h };
  }

  function fit() {
    const box = svg.getBoundingClientRect();
    const b = bounds();
    const scale = Math.min((box.width - 20) / Math.max(b.w, 1), (box.height - 20) / Math.max(b.h, 1), 1.5);
    view.scale = scale > 0 ? scale : 1;
    view.x = (box.width - b.w * view.scale) / 2;
    view.y = (box.height - b.h * view.scale) / 2;
    applyView();
  }

  function centreOn(rect) {
    const box = svg.getBoundingClientRect();
    view.scale = Math.max(view.scale, 0.8);
    view.x = box.width / 2 - (rect.x + rect.w / 2) * view.scale;
    view.y = box.height / 2 - (rect.y + rect.h / 2) * view.scale;
    applyView();
  }

  function toggle(t) {
    const at = expanded.indexOf(t);
    if (at >= 0) {
      expanded.splice(at, 1);
      if (selected && selected.t === "i" && items[selected.i].parent === t) selected = { t: "n", i: t };
    } else if (held[t].length) {
      expanded.push(t);
    }
    draw();
    if (selected) showDetails();
  }

  function go(ref) {
    if (ref.t === "i" && own.has(ref.i)) ref = { t: "n", i: own.get(ref.i) };
    if (ref.t === "i" && !expanded.includes(items[ref.i].parent)) expanded.push(items[ref.i].parent);
    select(ref);
    const geo = geometry();
    centreOn(ref.t === "n" ? geo.nodes[ref.i] : geo.itemRects.get(ref.i));
  }

  function select(ref) {
    selected = ref;
    draw();
    showDetails();
  }

  function refLabel(ref) { return ref.t === "n" ? top[ref.i].label : items[ref.i].label; }

  function edgeList(title, id, list, other) {
    const section = html("section", { id });
    section.appendChild(html("h3", {}, title));
    const byKind = new Map();
    for (const e of list) {
      if (hiddenKinds.has(e[2])) continue;
      if (!byKind.has(e[2])) byKind.set(e[2], []);
      byKind.get(e[2]).push(e);
    }
    if (!byKind.size) section.appendChild(html("p", { class: "hint" }, "none"));
    for (const kind of [...byKind.keys()].sort((a, b) => a - b)) {
      const edges = byKind.get(kind);
      const group = html("div", { class: "kindgroup", "data-kind": kinds[kind].name });
      group.appendChild(html("span", { class: "kindname" }, kinds[kind].name));
      group.appendChild(document.createTextNode(` (${edges.length})`));
      const ul = html("ul");
      for (const e of edges.slice(0, 300)) {
        const ref = other(e);
        const li = html("li", { "data-label": refLabel(ref) });
        const a = html("a", {}, refLabel(ref));
        a.addEventListener("click", () => go(ref));
        li.appendChild(a);
        if (e[3] > 1) li.appendChild(document.createTextNode(" ×" + e[3]));
        if (e[4]) li.appendChild(html("span", { class: "where" }, " " + e[4]));
        ul.appendChild(li);
      }
      if (edges.length > 300) ul.appendChild(html("li", { class: "hint" }, `… ${edges.length - 300} more`));
      group.appendChild(ul);
      section.appendChild(group);
    }
    return section;
  }

  function showDetails() {
    details.textContent = "";
    if (!selected) return;
    const isNode = selected.t === "n";
    const subject = isNode ? top[selected.i] : items[selected.i];
    details.appendChild(html("h2", { id: "selected-label" }, subject.label));
    details.appendChild(html("div", { id: "selected-kind" }, subject.kind + (isNode ? ` (${data.level} level)` : ` (${detail.level} level)`)));
    if (isNode && held[selected.i].length) {
      const open = expanded.includes(selected.i);
      const button = html("button", { id: "expand", type: "button" }, open ? "Collapse" : `Expand (${held[selected.i].length})`);
      const t = selected.i;
      button.addEventListener("click", () => toggle(t));
      details.appendChild(button);
    }
    if (!isNode) {
      const parent = items[selected.i].parent;
      const up = html("button", { id: "collapse-parent", type: "button" }, "Collapse " + shown(top[parent].label));
      up.addEventListener("click", () => { selected = { t: "n", i: parent }; toggle(parent); });
      details.appendChild(up);
    }
    details.appendChild(html("h3", {}, "Properties"));
    const table = html("table", { id: "props" });
    const props = Object.assign({ id: subject.id }, subject.props);
    for (const key of Object.keys(props)) {
      const tr = html("tr", { "data-key": key });
      tr.appendChild(html("td", {}, key));
      const value = props[key];
      tr.appendChild(html("td", {}, typeof value === "string" ? value : JSON.stringify(value)));
      table.appendChild(tr);
    }
    details.appendChild(table);
    if (isNode) {
      details.appendChild(edgeList("Incoming", "incoming", topIn[selected.i], (e) => ({ t: "n", i: e[0] })));
      details.appendChild(edgeList("Outgoing", "outgoing", topOut[selected.i], (e) => ({ t: "n", i: e[1] })));
    } else {
      details.appendChild(edgeList("Incoming", "incoming", itemIn[selected.i], (e) => ({ t: "i", i: e[0] })));
      details.appendChild(edgeList("Outgoing", "outgoing", itemOut[selected.i], (e) => ({ t: "i", i: e[1] })));
    }
  }

  function legend() {
    const box = document.getElementById("legend");
    box.appendChild(html("h3", {}, "Edge kinds"));
    kinds.forEach((kind, k) => {
      const marker = el("marker", { id: `m${k}`, viewBox: "0 0 10 10", refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, orient: "auto-start-reverse" }, markers);
      el("path", { d: "M0,0 L10,5 L0,10 z", fill: kind.colour }, marker);
      const label = html("label");
      const input = html("input", { type: "checkbox", "data-kind": kind.name });
      input.checked = true;
      input.addEventListener("change", () => {
        if (input.checked) hiddenKinds.delete(k); else hiddenKinds.add(k);
        draw();
        if (selected) showDetails();
      });
      label.appendChild(input);
      const swatch = html("span", { class: "swatch" });
      swatch.style.borderTopColor = kind.colour;
      swatch.style.borderTopStyle = kind.style === "bold" ? "solid" : kind.style;
      if (kind.style === "bold") swatch.style.borderTopWidth = "3px";
      label.appendChild(swatch);
      label.appendChild(document.createTextNode(kind.name));
      box.appendChild(label);
    });
  }

  // Search: every node and item whose canonical path holds the text (any case); exact, then
  // last-segment, then prefix matches first.
  let hits = [];
  function find(text) {
    const q = text.trim().toLowerCase();
    if (!q) return [];
    const found = [];
    const exact = text.trim();
    const score = (label) => {
      const l = label.toLowerCase();
      if (label === exact) return 0;
      if (l === q) return 0.5;
      if (l.endsWith("::" + q)) return 1;
      if (l.startsWith(q)) return 2;
      return l.includes(q) ? 3 : -1;
    };
    top.forEach((n, i) => { const s = score(n.label); if (s >= 0) found.push({ s, ref: { t: "n", i }, label: n.label, kind: n.kind }); });
    for (const item of items) {
      if (own.has(item.index)) continue;
      const s = score(item.label);
      if (s >= 0) found.push({ s, ref: { t: "i", i: item.index }, label: item.label, kind: item.kind });
    }
    found.sort((a, b) => a.s - b.s || a.label.length - b.label.length || (a.label < b.label ? -1 : a.label > b.label ? 1 : 0));
    return found.slice(0, 50);
  }
  function showResults() {
    hits = find(search.value);
    results.textContent = "";
    results.hidden = hits.length === 0;
    hits.forEach((hit, k) => {
      const li = html("li", { "data-label": hit.label, class: k === 0 ? "active" : "" });
      li.appendChild(html("span", { class: "kind" }, hit.kind));
      li.appendChild(document.createTextNode(hit.label));
      li.addEventListener("mousedown", (ev) => { ev.preventDefault(); choose(hit); });
      results.appendChild(li);
    });
  }
  function choose(hit) {
    results.hidden = true;
    go(hit.ref);
  }
  search.addEventListener("input", showResults);
  search.addEventListener("keydown", (ev) => {
    if (ev.key === "Enter" && hits.length) choose(hits[0]);
    if (ev.key === "Escape") results.hidden = true;
  });
  search.addEventListener("blur", () => { results.hidden = true; });

  // Pan by dragging the background, zoom with the wheel around the pointer.
  let drag = null;
  svg.addEventListener("mousedown", (ev) => {
    drag = { x: ev.clientX, y: ev.clientY, vx: view.x, vy: view.y, moved: false };
    svg.classList.add("dragging");
  });
  window.addEventListener("mousemove", (ev) => {
    if (!drag) return;
    view.x = drag.vx + ev.clientX - drag.x;
    view.y = drag.vy + ev.clientY - drag.y;
    drag.moved = drag.moved || Math.abs(ev.clientX - drag.x) + Math.abs(ev.clientY - drag.y) > 3;
    applyView();
  });
  window.addEventListener("mouseup", () => { drag = null; svg.classList.remove("dragging"); });
  svg.addEventListener("wheel", (ev) => {
    ev.preventDefault();
    const box = svg.getBoundingClientRect();
    const px = ev.clientX - box.left, py = ev.clientY - box.top;
    const factor = Math.exp(-ev.deltaY * 0.0015);
    const scale = Math.min(Math.max(view.scale * factor, 0.02), 8);
    view.x = px - ((px - view.x) * scale) / view.scale;
    view.y = py - ((py - view.y) * scale) / view.scale;
    view.scale = scale;
    applyView();
  }, { passive: false });
  svg.addEventListener("click", (ev) => {
    if (ev.target === svg && !(drag && drag.moved) && selected) { selected = null; draw(); details.textContent = ""; }
  });
  document.getElementById("fit").addEventListener("click", fit);

  legend();
  draw();
  fit();
  // For drivers and tests: the picture is drawn.
  window.codegraph = { ready: performance.now(), nodes: top.length, items: items.length };
  document.documentElement.setAttribute("data-ready", "true");
})();
