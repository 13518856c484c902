// Dashboards: one call to /ui/api/dashboard with the filters, then one SVG chart per panel.

import { api, clear, el, fmtNumber, status } from "./common.js";
import { dataTable, empty, hbars, heatmap, intervalChart, lineChart, setWidth, stackedBars } from "./charts.js";

const form = document.getElementById("filters");

function widthOf(id) {
  setWidth(document.querySelector(`#${id} .chart`).clientWidth);
}

function panel(id, ...nodes) {
  const box = clear(document.querySelector(`#${id} .chart`));
  box.append(...nodes.filter(Boolean));
  document.getElementById(id).dataset.rendered = "1";
}

const pct = (v) => `${Math.round(v * 100)}%`;

function proportionPoint(p, i) {
  return { x: i, y: p.rate, lo: p.ci_low, hi: p.ci_high, n: p.n };
}

function leaderboard(board) {
  widthOf("leaderboard");
  const rows = board.rows;
  panel("leaderboard",
    intervalChart(rows, `Ratings of ${rows.length} models`),
    rows.length ? el("p", { class: "small muted", text: `${board.battles} battles · ${board.method.toUpperCase()} · ${Math.round(board.level * 100)}% ${board.ci} intervals · 1000 = average` }) : null,
    dataTable("Leaderboard", ["Rank", "Model", "Rating", "Low", "High", "Battles"], rows.map((r) => [r.rank, r.model, fmtNumber(r.rating, 0), fmtNumber(r.ci_low, 0), fmtNumber(r.ci_high, 0), r.battles])),
  );
}

function matrix(m) {
  widthOf("matrix");
  panel("matrix", heatmap(m, "Win-rate matrix"),
    dataTable("Win rates", ["Model", ...m.models], m.models.map((row, i) => [row, ...m.values[i].map((v, j) => (v == null ? "—" : `${pct(v)} of ${m.battles[i][j]}`))])));
}

function position(t) {
  widthOf("position");
  const series = [{ name: "shown first wins", points: t.position.map((p, i) => proportionPoint(p.first_wins, i)) }];
  panel("position", lineChart(t.windows, series, "Position bias over time", { yMin: 0, yMax: 1, ref: 0.5, fmt: pct }),
    dataTable("Position bias", ["Window", "First wins", "n", "Low", "High"], t.position.map((p) => [p.window, fmtNumber(p.first_wins.rate), p.first_wins.n, fmtNumber(p.first_wins.ci_low), fmtNumber(p.first_wins.ci_high)])));
}

function length(t) {
  widthOf("length");
  const rows = t.length;
  const windows = t.windows;
  const groups = [...new Set(rows.map((r) => r.group))];
  const series = groups.map((g) => ({
    name: g,
    points: rows.filter((r) => r.group === g).map((r) => proportionPoint(r.chosen_longer, windows.indexOf(r.window))),
  }));
  panel("length", lineChart(windows, series, "Length bias over time", { yMin: 0, yMax: 1, ref: 0.5, fmt: pct }),
    dataTable("Length bias", ["Group", "Window", "Longer wins", "n"], rows.map((r) => [r.group, r.window, fmtNumber(r.chosen_longer.rate), r.chosen_longer.n])));
}

function latency(t) {
  widthOf("latency");
  // One unit for the chart, chosen by the server from the largest value (the rule of `preflog report`).
  const unit = t.latency_unit;
  const inUnit = (s) => (s == null ? null : s / unit.seconds);
  document.querySelector("#latency figcaption").textContent = `Feedback latency — inference to judgment (${unit.name})`;
  const series = [
    { name: "median", points: t.latency.map((p, i) => ({ x: i, y: inUnit(p.p50_s), n: p.n })) },
    { name: "90th percentile", points: t.latency.map((p, i) => ({ x: i, y: inUnit(p.p90_s), n: p.n })) },
  ];
  const chart = lineChart(t.windows, series, `Feedback latency over time, in ${unit.name}`, { yMin: 0, fmt: (v) => `${v.toFixed(1)} ${unit.symbol}` });
  chart.dataset.unit = unit.symbol;
  panel("latency", chart,
    dataTable("Latency", ["Window", "Judgments", `Median (${unit.symbol})`, `p90 (${unit.symbol})`], t.latency.map((p) => [p.window, p.n, fmtNumber(inUnit(p.p50_s), 1), fmtNumber(inUnit(p.p90_s), 1)])));
}

function volume(t, total) {
  widthOf("volume");
  panel("volume", stackedBars(t.windows, t.volume, "Judgments per window by source"),
    el("p", { class: "small muted", text: `${total.judgments} judgments, ${total.battles} battles in total` }),
    dataTable("Volume", ["Source", ...t.windows], Object.entries(t.volume).map(([k, v]) => [k, ...t.windows.map((w) => v[w] || 0)])));
}

function agreement(a) {
  widthOf("agreement");
  const rows = [
    { name: "Krippendorff's α (humans)", value: a.krippendorff_alpha },
    { name: "Fleiss' κ (humans)", value: a.fleiss_kappa },
    ...a.judges.map((j) => ({ name: `${j.judge.replace(/^[a-z_]+:/, "")} vs humans`, value: j.agreement.rate, lo: j.agreement.ci_low, hi: j.agreement.ci_high, note: `(n=${j.units})` })),
  ];
  panel("agreement", hbars(rows, "Agreement", { lo: Math.min(0, ...rows.map((r) => r.value ?? 0)), hi: 1 }),
    el("p", { class: "small muted", text: `${a.units} items judged by 2+ annotators (${a.annotators} annotators)` }));
}

function judges(report) {
  widthOf("judges");
  const rows = report.judges;
  const short = (j) => `${j.name}${j.version ? "@" + j.version : ""}${j.from_scores ? " (scores)" : ""}`;
  const agreeing = rows.map((j) => ({ name: short(j), value: j.agreement.rate, lo: j.agreement.ci_low, hi: j.agreement.ci_high, note: `(n=${j.units})` }));
  const humans = report.humans.chosen_longer;
  const longer = [
    { name: "humans", value: humans.rate, lo: humans.ci_low, hi: humans.ci_high, note: `(n=${humans.n})` },
    ...rows.map((j) => ({ name: short(j), value: j.length.chosen_longer.rate, lo: j.length.chosen_longer.ci_low, hi: j.length.chosen_longer.ci_high, note: `(n=${j.length.chosen_longer.n})` })),
  ];
  if (!rows.length) {
    panel("judges", empty("No reward model or AI judge has judged or scored these requests."));
    return;
  }
  const agreement = hbars(agreeing, "Agreement with the human majority", { lo: 0, hi: 1, fmt: pct });
  agreement.classList.add("judges-agreement");
  const length = hbars(longer, "Share of decisive battles won by the longer output", { lo: 0, hi: 1, fmt: pct });
  length.classList.add("judges-length");
  panel("judges",
    el("p", { class: "small", text: "Agreement with the human majority" }), agreement,
    el("p", { class: "small", text: "Longer output preferred (humans first, for reference)" }), length,
    dataTable("Judges", ["Judge", "Kind", "Battles", "Agrees", "Items", "Longer wins", "Length coef"], rows.map((j) => [
      short(j), j.kind, j.battles, fmtNumber(j.agreement.rate), j.units, fmtNumber(j.length.chosen_longer.rate), fmtNumber(j.length.coef, 3),
    ])),
  );
}

function params() {
  const out = new URLSearchParams();
  for (const [key, value] of new FormData(form)) if (String(value)) out.set(key, String(value));
  return out;
}

async function load(event) {
  event?.preventDefault();
  const query = params();
  history.replaceState(null, "", `?${query}`);
  status("Computing…");
  document.body.removeAttribute("data-ready");
  try {
    const data = await api(`/ui/api/dashboard?${query}`);
    leaderboard(data.leaderboard);
    matrix(data.matrix);
    volume(data.trends, data.volume);
    position(data.trends);
    length(data.trends);
    latency(data.trends);
    agreement(data.agreement);
    judges(data.judges);
    status(data.leaderboard.battles ? "" : "No judgments match these filters.");
  } catch (error) {
    status(error.message, "error");
    for (const id of ["leaderboard", "matrix", "volume", "position", "length", "latency", "agreement", "judges"]) panel(id, empty("Could not load."));
  }
  document.body.setAttribute("data-ready", "1");
}

async function start() {
  const initial = new URLSearchParams(location.search);
  try {
    const facets = await api("/ui/api/facets");
    const select = document.getElementById("criterion");
    for (const c of facets.criteria) select.append(el("option", { value: c, text: c }));
  } catch (error) {
    status(error.message, "error");
  }
  for (const [key, value] of initial) {
    const input = form.elements.namedItem(key);
    if (input) input.value = value;
  }
  form.addEventListener("submit", load);
  await load();
}

start();
