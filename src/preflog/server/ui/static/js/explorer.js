// The request explorer: search, a result table, and the joined record of one request.

import { api, clear, el, fmtNumber, fmtTime, status } from "./common.js";
import { conversation, markdown, reply } from "./render.js";

const $ = (id) => document.getElementById(id);
const form = $("search");

function verdict(pref) {
  if (pref.chosen) return `${pref.chosen} ≻ ${pref.rejected}`;
  if (pref.ranking) return pref.ranking.map((g) => (Array.isArray(g) ? `(${g.join(" = ")})` : g)).join(" ≻ ");
  if (pref.outcome) return `${pref.outcome.replace("_", " ")}: ${(pref.candidates || []).join(", ")}`;
  return "—";
}

function source(src) {
  if (!src) return "—";
  return [src.kind, src.id, src.version].filter(Boolean).join(" · ");
}

function table(caption, headers, rows, attrs = {}) {
  const t = el("table", { class: "table", ...attrs }, el("caption", { text: caption }));
  t.append(el("thead", {}, el("tr", {}, headers.map((h) => el("th", { scope: "col", text: h })))));
  const tbody = el("tbody");
  for (const row of rows) {
    const tr = el("tr", row.attrs || {});
    row.cells.forEach((cell) => tr.append(el("td", {}, cell instanceof Node ? cell : String(cell ?? "—"))));
    tbody.append(tr);
  }
  if (!rows.length) tbody.append(el("tr", {}, el("td", { colspan: headers.length, class: "muted", text: "none" })));
  t.append(tbody);
  return t;
}

function candidateBlock(cand) {
  const model = cand.model || {};
  const params = Object.entries(cand.params || {}).map(([k, v]) => `${k}=${v}`).join(", ");
  const usage = Object.entries(cand.usage || {}).map(([k, v]) => `${k}=${v}`).join(", ");
  return el("section", { class: "candidate", "data-candidate": cand.candidate_id },
    el("h4", {}, el("span", { class: "label", text: cand.candidate_id }), ` ${model.name || "?"} ${model.version || ""}`),
    el("p", { class: "small muted", text: [model.checkpoint, params, usage, cand.latency_ms != null ? `${cand.latency_ms} ms` : ""].filter(Boolean).join(" · ") }),
    reply(cand),
  );
}

function showRecord(rec) {
  const box = clear($("record"));
  box.hidden = false;
  box.dataset.requestId = rec.request_id;
  const retracted = new Set(rec.retracted || []);
  box.append(el("h2", {}, "Request ", el("code", { text: rec.request_id })));
  const flags = el("p", { class: "flags" });
  if (rec.erased) flags.append(el("span", { class: "badge warn", "data-flag": "erased", text: "erased" }));
  if (rec.orphaned) flags.append(el("span", { class: "badge warn", "data-flag": "orphaned", text: "orphaned: judgments wait for their inference" }));
  box.append(flags);
  const inf = rec.inference;
  if (inf) {
    box.append(el("p", { class: "small muted", text: [fmtTime(inf.occurred_at), inf.user_id && `user ${inf.user_id}`, inf.session_id && `session ${inf.session_id}`, (inf.tags || []).map((t) => `#${t}`).join(" "), inf.presented && `presented ${inf.presented.join(", ")}`].filter(Boolean).join(" · ") }));
    if (inf.system) box.append(el("details", { class: "system" }, el("summary", { text: "System prompt" }), el("div", { class: "md" }, markdown(inf.system))));
    const convo = el("ol", { class: "conversation" });
    if (inf.prompt !== undefined) conversation(convo, typeof inf.prompt === "string" ? [{ role: "user", content: inf.prompt }] : inf.prompt);
    else convo.append(el("li", { class: "erased", text: "(prompt erased)" }));
    box.append(el("h3", { text: "Prompt" }), convo, el("h3", { text: "Candidates" }));
    box.append(el("div", { class: "candidates" }, (inf.candidates || []).map(candidateBlock)));
  } else {
    box.append(el("p", { class: "muted", text: "No inference logged for this request (yet)." }));
  }
  const prefRows = rec.preferences.map((p) => ({
    attrs: { "data-event": p.event_id, class: retracted.has(p.event_id) ? "retracted" : "" },
    cells: [fmtTime(p.occurred_at), source(p.source), verdict(p), p.criterion, p.strength != null ? fmtNumber(p.strength) : "", (p.presented || []).join(", "), p.rationale, retracted.has(p.event_id) ? "retracted" : p.erased ? "erased" : "ok"],
  }));
  box.append(table("Judgments", ["Time", "Source", "Verdict", "Criterion", "Strength", "Presented", "Rationale", "State"], prefRows, { id: "judgments" }));
  box.append(table("Scores", ["Time", "Scorer", "Candidate", "Score", "Criterion"], rec.scores.map((s) => ({
    cells: [fmtTime(s.occurred_at), source(s.scorer && { kind: s.scorer.kind, id: s.scorer.name, version: s.scorer.version }), s.candidate_id, fmtNumber(s.score, 3), s.criterion],
  }))));
  box.append(table("Signals", ["Time", "Signal", "Candidate", "Value", "User"], rec.signals.map((s) => ({
    cells: [fmtTime(s.occurred_at), s.signal, s.candidate_id, s.value, s.user_id],
  }))));
  box.append(table("Retractions", ["Time", "Withdraws", "Source", "Reason"], rec.retractions.map((r) => ({
    cells: [fmtTime(r.occurred_at), r.retracts, source(r.source), r.reason],
  }))));
  box.append(table("Erasures", ["Time", "Scope", "Reason"], rec.erasures.map((e) => ({
    cells: [fmtTime(e.occurred_at), e.user_id ? `user ${e.user_id}` : "request", e.reason],
  }))));
}

// The URL is the state: the search filters and the open request (`?model=x&open=<id>`), so a link
// can be shared and Back returns to the previous request or search.
const FILTERS = ["request_id", "user", "model", "tag", "since", "until"];

function formParams() {
  const params = new URLSearchParams();
  for (const [key, value] of new FormData(form)) if (String(value).trim()) params.set(key, String(value).trim());
  return params;
}

function navigate(params, { push }) {
  const url = new URL(location.href);
  url.search = params.toString();
  if (url.href === location.href) return;
  if (push) history.pushState(null, "", url);
  else history.replaceState(null, "", url);
}

function withOpen(requestId) {
  const params = new URLSearchParams(location.search);
  if (requestId) params.set("open", requestId);
  else params.delete("open");
  return params;
}

function hideRecord() {
  const box = clear($("record"));
  box.hidden = true;
  delete box.dataset.requestId;
}

async function show(requestId) {
  try {
    showRecord(await api(`/ui/api/requests/${encodeURIComponent(requestId)}`));
    $("record").prepend(el("p", { class: "small" }, el("a", { href: `?open=${encodeURIComponent(requestId)}`, id: "permalink", text: "Link to this request" })));
    return true;
  } catch (error) {
    hideRecord();
    status(error.status === 404 ? `No request ${requestId} in this project.` : error.message, "error");
    return false;
  }
}

async function open(requestId) {
  navigate(withOpen(requestId), { push: true });  // before the fetch: the link is right at once
  await show(requestId);
}

async function runSearch() {
  const params = formParams();
  status("Searching…");
  try {
    const result = await api(`/ui/api/requests?${params}`);
    const tbody = clear($("results").querySelector("tbody"));
    $("results-caption").textContent = `${result.total} request${result.total === 1 ? "" : "s"}${result.total > result.rows.length ? `, newest ${result.rows.length} shown` : ""}`;
    for (const row of result.rows) {
      const link = el("a", { href: `?${withOpen(row.request_id)}`, text: row.request_id.slice(0, 8), class: "mono", title: row.request_id, "data-open": row.request_id });
      link.addEventListener("click", (e) => {
        if (e.ctrlKey || e.metaKey || e.shiftKey || e.button !== 0) return; // a new tab keeps the link
        e.preventDefault();
        open(row.request_id);
      });
      const state = [row.erased && "erased", row.orphaned && "orphaned"].filter(Boolean).join(", ") || (row.annotators.length ? `${row.annotators.length} annotator(s)` : "");
      tbody.append(el("tr", { "data-request": row.request_id },
        el("td", { text: fmtTime(row.occurred_at) }), el("td", {}, link), el("td", { text: row.models.join(", ") }),
        el("td", { text: String(row.judgments) }), el("td", { text: state })));
    }
    status(result.total ? "" : "No request matches.");
    return result;
  } catch (error) {
    status(error.message, "error");
    return null;
  }
}

async function search(event) {
  event.preventDefault();
  hideRecord();
  navigate(formParams(), { push: true });  // a new search: its filters in the URL, no stale `open`
  await openTheOnlyOne(await runSearch());
}

async function openTheOnlyOne(result) {
  if (!result || result.rows.length !== 1) return;
  navigate(withOpen(result.rows[0].request_id), { push: false });
  await show(result.rows[0].request_id);
}

function fillForm(params) {
  for (const key of FILTERS) {
    const input = form.elements.namedItem(key);
    if (input) input.value = params.get(key) || "";
  }
}

async function fromUrl() {
  const params = new URLSearchParams(location.search);
  fillForm(params);
  const result = await runSearch();
  if (params.get("open")) await show(params.get("open"));
  else {
    hideRecord();
    await openTheOnlyOne(result);
  }
}

async function start() {
  form.addEventListener("submit", search);
  window.addEventListener("popstate", () => fromUrl());
  try {
    const facets = await api("/ui/api/facets");
    for (const m of facets.models) $("models").append(el("option", { value: m }));
    for (const t of facets.tags) $("tags").append(el("option", { value: t }));
  } catch (error) {
    status(error.message, "error");
  }
  await fromUrl();
  document.body.setAttribute("data-ready", "1");
}

start();
