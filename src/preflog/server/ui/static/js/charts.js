// Hand-written SVG charts (no chart library): interval bars, heat map, line with band, stacked
// bars, horizontal bars. Each returns an <svg role="img"> plus a data table for screen readers.
// Marks carry data-* attributes so tests (and curious users) can read the numbers back.

import { el } from "./common.js";

let W = 640;
const PALETTE = 6;

/** Draw at the container's pixel width so text keeps its size on every screen. */
export function setWidth(width) {
  W = Math.max(320, Math.round(width || 640));
}

function svg(height, label) {
  return el("svg", { viewBox: `0 0 ${W} ${height}`, role: "img", "aria-label": label, class: "svg-chart", preserveAspectRatio: "xMidYMid meet" }, el("title", { text: label }));
}

function scale(d0, d1, r0, r1) {
  const span = d1 - d0 || 1;
  return (v) => r0 + ((v - d0) / span) * (r1 - r0);
}

/** Category labels that fit: every k-th window, dates shortened to MM-DD. */
function windowLabel(w) {
  return /^\d{4}-\d{2}-\d{2}$/.test(w) ? w.slice(5) : w;
}

function labelEvery(n) {
  return Math.ceil(n / Math.max(2, Math.floor((W - 60) / 56)));
}

function ticks(lo, hi, count = 5) {
  const step0 = (hi - lo) / count || 1;
  const mag = 10 ** Math.floor(Math.log10(step0));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= step0) || step0;
  const out = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + 1e-9; v += step) out.push(Number(v.toFixed(10)));
  return out;
}

/** A <details> table with the chart's numbers (accessible, and handy to copy). */
export function dataTable(caption, headers, rows) {
  const table = el("table", { class: "table small" }, el("caption", { class: "sr-only", text: caption }),
    el("thead", {}, el("tr", {}, headers.map((h) => el("th", { scope: "col", text: h })))));
  const body = el("tbody");
  rows.forEach((row) => body.append(el("tr", {}, row.map((cell) => el("td", { text: cell ?? "—" })))));
  table.append(body);
  return el("details", { class: "data" }, el("summary", { text: "Data" }), table);
}

export function empty(message = "No data for these filters.") {
  return el("p", { class: "muted empty-chart", text: message });
}

function xAxis(g, x, values, y0, y1, fmt) {
  for (const v of values) {
    g.append(el("line", { x1: x(v), x2: x(v), y1: y0, y2: y1, class: "grid" }));
    g.append(el("text", { x: x(v), y: y1 + 14, class: "tick", "text-anchor": "middle", text: fmt(v) }));
  }
}

/** Leaderboard: one row per model, a point at the rating and a bar over its interval. */
export function intervalChart(rows, label) {
  if (!rows.length) return empty();
  const left = 150;
  const rowH = 28;
  const height = rows.length * rowH + 40;
  const lows = rows.map((r) => r.ci_low ?? r.rating);
  const highs = rows.map((r) => r.ci_high ?? r.rating);
  const lo = Math.min(...lows, 1000) - 20;
  const hi = Math.max(...highs, 1000) + 20;
  const x = scale(lo, hi, left, W - 20);
  const root = svg(height, label);
  const axis = el("g", { class: "axis" });
  xAxis(axis, x, ticks(lo, hi), 10, height - 30, (v) => String(Math.round(v)));
  axis.append(el("line", { x1: x(1000), x2: x(1000), y1: 10, y2: height - 30, class: "ref" }));
  root.append(axis);
  rows.forEach((r, i) => {
    const y = 10 + i * rowH + rowH / 2;
    const g = el("g", { class: "lb-row", "data-model": r.model, "data-rating": r.rating.toFixed(1) });
    g.append(el("text", { x: left - 8, y: y + 4, "text-anchor": "end", class: "label", text: `${r.rank}. ${r.model}` }));
    if (r.ci_low != null && r.ci_high != null) {
      g.append(el("rect", { x: x(r.ci_low), y: y - 6, width: Math.max(1, x(r.ci_high) - x(r.ci_low)), height: 12, rx: 3, class: "interval" }));
    }
    const interval = r.ci_low != null && r.ci_high != null ? `[${r.ci_low.toFixed(0)}, ${r.ci_high.toFixed(0)}]` : "(no interval)";
    g.append(el("circle", { cx: x(r.rating), cy: y, r: 5, class: "point" }, el("title", { text: `${r.model}: ${r.rating.toFixed(0)} ${interval}, ${r.battles} battles` })));
    root.append(g);
  });
  return root;
}

function heatColor(v) {
  // 0 → warm red, 0.5 → near white, 1 → blue
  const t = Math.max(0, Math.min(1, v));
  const [a, b] = t < 0.5 ? [[214, 96, 77], [247, 247, 247]] : [[247, 247, 247], [67, 147, 195]];
  const u = t < 0.5 ? t / 0.5 : (t - 0.5) / 0.5;
  const c = a.map((x, i) => Math.round(x + (b[i] - x) * u));
  return `rgb(${c[0]},${c[1]},${c[2]})`;
}

/** Win-rate matrix as a heat map: cell (row, column) = share of battles row won against column. */
export function heatmap(matrix, label) {
  const n = matrix.models.length;
  if (!n) return empty();
  const left = 130;
  const top = 24;
  const size = Math.min(90, (W - left - 10) / n);
  const root = svg(top + n * size + 10, label);
  matrix.models.forEach((m, j) => root.append(el("text", { x: left + j * size + size / 2, y: top - 8, "text-anchor": "middle", class: "tick", text: m.length > 12 ? m.slice(0, 11) + "…" : m })));
  matrix.models.forEach((rowModel, i) => {
    root.append(el("text", { x: left - 6, y: top + i * size + size / 2 + 4, "text-anchor": "end", class: "label", text: rowModel }));
    matrix.models.forEach((colModel, j) => {
      const v = matrix.values[i][j];
      const count = matrix.battles[i][j];
      const cell = el("rect", {
        x: left + j * size, y: top + i * size, width: size - 2, height: size - 2, rx: 2,
        class: v == null ? "cell none" : "cell", fill: v == null ? null : heatColor(v),
        "data-row": rowModel, "data-col": colModel, "data-value": v == null ? "" : v.toFixed(3), "data-battles": count,
      }, el("title", { text: v == null ? `${rowModel} vs ${colModel}: no battles` : `${rowModel} beat ${colModel} in ${(v * 100).toFixed(0)}% of ${count} battles` }));
      root.append(cell);
      if (v != null) root.append(el("text", { x: left + j * size + size / 2 - 1, y: top + i * size + size / 2 + 4, "text-anchor": "middle", class: "cell-text", text: `${Math.round(v * 100)}%` }));
    });
  });
  return root;
}

/** Lines over categorical windows, each with an optional interval band. series: [{name, points: [{x, y, lo, hi}]}] */
export function lineChart(windows, series, label, { yMin, yMax, ref, fmt = (v) => v.toFixed(2) } = {}) {
  const points = series.flatMap((s) => s.points.filter((p) => p.y != null));
  if (!windows.length || !points.length) return empty();
  const left = 50;
  const height = 230;
  const bottom = height - 46;
  const lo = yMin ?? Math.min(...points.map((p) => p.lo ?? p.y));
  const hi = yMax ?? Math.max(...points.map((p) => p.hi ?? p.y));
  const x = scale(0, Math.max(1, windows.length - 1), left + 10, W - 20);
  const y = scale(lo, hi, bottom, 12);
  const root = svg(height, label);
  for (const v of ticks(lo, hi, 4)) {
    root.append(el("line", { x1: left, x2: W - 10, y1: y(v), y2: y(v), class: "grid" }));
    root.append(el("text", { x: left - 6, y: y(v) + 4, "text-anchor": "end", class: "tick", text: fmt(v) }));
  }
  if (ref != null) root.append(el("line", { x1: left, x2: W - 10, y1: y(ref), y2: y(ref), class: "ref" }));
  const every = labelEvery(windows.length);
  windows.forEach((w, i) => {
    if (i % every === 0) root.append(el("text", { x: x(i), y: bottom + 16, "text-anchor": "middle", class: "tick", text: windowLabel(w) }));
  });
  series.forEach((s, k) => {
    const cls = `s${k % PALETTE}`;
    const pts = s.points.filter((p) => p.y != null);
    const band = pts.filter((p) => p.lo != null && p.hi != null);
    if (band.length > 1 && (k === 0 || series.length <= 2)) {
      const upper = band.map((p) => `${x(p.x)},${y(p.hi)}`);
      const lower = band.slice().reverse().map((p) => `${x(p.x)},${y(p.lo)}`);
      root.append(el("polygon", { points: [...upper, ...lower].join(" "), class: `band ${cls}` }));
    }
    if (pts.length > 1) root.append(el("polyline", { points: pts.map((p) => `${x(p.x)},${y(p.y)}`).join(" "), class: `line ${cls}` }));
    for (const p of pts) {
      root.append(el("circle", { cx: x(p.x), cy: y(p.y), r: 3.5, class: `pt ${cls}`, "data-series": s.name, "data-window": windows[p.x], "data-value": p.y.toFixed(4) },
        el("title", { text: `${s.name} ${windows[p.x]}: ${fmt(p.y)}${p.n != null ? ` (n=${p.n})` : ""}` })));
    }
  });
  root.append(legend(series.map((s) => s.name), height - 14));
  return root;
}

function legend(names, y) {
  const g = el("g", { class: "legend" });
  let x = 50;
  names.forEach((name, k) => {
    g.append(el("rect", { x, y: y - 9, width: 10, height: 10, class: `key s${k % PALETTE}` }));
    g.append(el("text", { x: x + 14, y, class: "tick", text: name }));
    x += 24 + name.length * 7;
  });
  return g;
}

/** Stacked bars per window. groups: {name: {window: count}} */
export function stackedBars(windows, groups, label) {
  const names = Object.keys(groups);
  if (!windows.length || !names.length) return empty();
  const left = 50;
  const height = 230;
  const bottom = height - 46;
  const totals = windows.map((w) => names.reduce((sum, n) => sum + (groups[n][w] || 0), 0));
  const hi = Math.max(...totals, 1);
  const y = scale(0, hi, bottom, 12);
  const band = (W - left - 20) / windows.length;
  const root = svg(height, label);
  for (const v of ticks(0, hi, 4)) {
    root.append(el("line", { x1: left, x2: W - 10, y1: y(v), y2: y(v), class: "grid" }));
    root.append(el("text", { x: left - 6, y: y(v) + 4, "text-anchor": "end", class: "tick", text: String(v) }));
  }
  const every = labelEvery(windows.length);
  windows.forEach((w, i) => {
    let base = 0;
    names.forEach((name, k) => {
      const count = groups[name][w] || 0;
      if (!count) return;
      root.append(el("rect", {
        x: left + i * band + band * 0.1, width: band * 0.8, y: y(base + count), height: y(base) - y(base + count),
        class: `bar s${k % PALETTE}`, "data-window": w, "data-source": name, "data-count": count,
      }, el("title", { text: `${w} ${name}: ${count}` })));
      base += count;
    });
    if (i % every === 0) root.append(el("text", { x: left + i * band + band / 2, y: bottom + 16, "text-anchor": "middle", class: "tick", text: windowLabel(w) }));
  });
  root.append(legend(names, height - 14));
  return root;
}

/** Horizontal bars on [lo, hi] with optional intervals. rows: [{name, value, lo, hi, note}] */
export function hbars(rows, label, { lo = 0, hi = 1, fmt = (v) => v.toFixed(2) } = {}) {
  const usable = rows.filter((r) => r.value != null);
  if (!usable.length) return empty("Not enough overlapping judgments to measure agreement.");
  const left = Math.min(W / 2, 16 + 8 * Math.max(...usable.map((r) => r.name.length)));
  const rowH = 28;
  const height = usable.length * rowH + 34;
  const x = scale(lo, hi, left, W - 60);
  const root = svg(height, label);
  xAxis(root, x, ticks(lo, hi, 4), 6, height - 24, fmt);
  if (lo < 0) root.append(el("line", { x1: x(0), x2: x(0), y1: 6, y2: height - 24, class: "ref" }));
  usable.forEach((r, i) => {
    const yc = 8 + i * rowH + rowH / 2;
    const from = x(Math.max(lo, Math.min(0, r.value)));
    const to = x(Math.max(lo, r.value));
    const g = el("g", { class: "hbar", "data-name": r.name, "data-value": r.value.toFixed(4) });
    // A name longer than the label column keeps its end (a judge's version) behind an ellipsis;
    // the whole name is in the tooltip.
    const room = Math.floor((left - 8) / 7.5); // about 7.5 px per character of the bold labels
    const label = r.name.length > room ? "…" + r.name.slice(r.name.length - room + 1) : r.name;
    g.append(el("text", { x: left - 8, y: yc + 4, "text-anchor": "end", class: "label", text: label }, el("title", { text: r.name })));
    g.append(el("rect", { x: Math.min(from, to), y: yc - 8, width: Math.max(1, Math.abs(to - from)), height: 16, class: "bar s0" }));
    if (r.lo != null && r.hi != null) g.append(el("line", { x1: x(r.lo), x2: x(r.hi), y1: yc, y2: yc, class: "whisker" }));
    g.append(el("text", { x: Math.max(to, r.hi != null ? x(r.hi) : to) + 6, y: yc + 4, class: "tick", text: fmt(r.value) + (r.note ? ` ${r.note}` : "") }));
    root.append(g);
  });
  return root;
}
