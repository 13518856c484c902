// The annotation arena: fetch the next item, show it, record the choice, keyboard shortcuts.

import { api, clear, el, status, typing } from "./common.js";
import { conversation, markdown, reply } from "./render.js";

const $ = (id) => document.getElementById(id);
const CHOICE_TEXT = { a: "A is better", b: "B is better", tie: "Tie", both_bad: "Both bad" };

const state = {
  item: null,
  busy: false,
  skipped: [],
  undo: [], // {event_id, request_id} of this page's judgments, newest last
  ranking: [],
  session: 0,
};

function settings() {
  const annotators = Math.max(1, Math.min(50, parseInt($("annotators").value, 10) || 1));
  return { policy: $("policy").value, annotators };
}

function showProgress(progress) {
  if (!progress) return;
  $("done").textContent = String(progress.done);
  $("remaining").textContent = String(progress.remaining);
  $("session-count").textContent = String(state.session);
}

function candidateCard(cand, index, mode) {
  const card = el("section", {
    class: "candidate",
    "data-candidate": cand.candidate_id,
    "data-label": cand.label,
    "aria-labelledby": `cand-${cand.label}`,
  });
  const head = el("h3", { id: `cand-${cand.label}` }, el("span", { class: "label", text: cand.label }),
    mode === "pair" ? ` Answer ${cand.label}` : ` Answer ${cand.label} (key ${index + 1})`);
  card.append(head);
  if (mode === "ranking") {
    card.append(el("button", { type: "button", class: "rank-next", "data-index": index, text: "Rank next", onclick: () => rankNext(index) }));
  }
  card.append(reply(cand));
  return card;
}

function show(item, progress) {
  state.item = item;
  state.ranking = [];
  showProgress(progress);
  const article = $("item");
  if (!item) {
    article.hidden = true;
    $("empty").hidden = false;
    return;
  }
  $("empty").hidden = true;
  article.hidden = false;
  article.dataset.requestId = item.request_id;
  article.dataset.presented = item.presented.join(",");
  article.dataset.mode = item.mode;
  $("item-id").textContent = item.request_id.slice(0, 8);
  const system = clear($("system"));
  if (item.system) system.append(el("details", { class: "system" }, el("summary", { text: "System prompt" }), el("div", { class: "md" }, markdown(item.system))));
  conversation(clear($("conversation")), item.messages);
  const box = clear($("candidates"));
  box.dataset.count = String(item.candidates.length);
  item.candidates.forEach((cand, i) => box.append(candidateCard(cand, i, item.mode)));
  $("pair-choices").hidden = item.mode !== "pair";
  $("rank-choices").hidden = item.mode !== "ranking";
  $("help-pair").hidden = item.mode !== "pair"; // the footer names the keys of this mode
  $("help-ranking").hidden = item.mode !== "ranking";
  $("help-last").textContent = String(item.candidates.length);
  renderRanking();
  $("rationale").value = "";
  $("strength").value = "";
  article.scrollIntoView({ block: "start" });
}

async function next() {
  const { policy, annotators } = settings();
  const query = new URLSearchParams({ policy, annotators: String(annotators), exclude: state.skipped.join(",") });
  const result = await api(`/ui/api/queue/next?${query}`);
  show(result.item, result.progress);
}

async function guarded(work) {
  if (state.busy) return;
  state.busy = true;
  document.body.dataset.busy = "1";
  try {
    await work();
  } catch (error) {
    status(error.message, "error");
  } finally {
    state.busy = false;
    delete document.body.dataset.busy;
  }
}

function options() {
  const out = {};
  const strength = $("strength").value;
  if (strength) out.strength = parseFloat(strength);
  if ($("criterion").value) out.criterion = $("criterion").value;
  if ($("rationale").value.trim()) out.rationale = $("rationale").value.trim();
  return out;
}

async function submit(extra, label) {
  const item = state.item;
  if (!item) return;
  const data = { request_id: item.request_id, presented: item.presented, policy: settings().policy, ...options(), ...extra };
  const saved = await api("/ui/api/judgments", { method: "POST", data });
  state.undo.push({ event_id: saved.event_id, request_id: item.request_id });
  state.session += 1;
  status(`Saved: ${label}.`, "ok");
  await next();
}

function choose(choice) {
  if (!state.item || state.item.mode !== "pair") return;
  guarded(() => submit({ choice }, CHOICE_TEXT[choice]));
}

function rankNext(index) {
  const item = state.item;
  if (!item || item.mode !== "ranking" || index >= item.candidates.length) return;
  const id = item.candidates[index].candidate_id;
  if (!state.ranking.includes(id)) state.ranking.push(id);
  renderRanking();
}

function renderRanking() {
  const list = clear($("ranking"));
  const item = state.item;
  if (!item || item.mode !== "ranking") return;
  for (const id of state.ranking) {
    const cand = item.candidates.find((c) => c.candidate_id === id);
    list.append(el("li", { text: `Answer ${cand.label}` }));
  }
  $("rank-submit").disabled = state.ranking.length !== item.candidates.length;
}

function submitRanking() {
  const item = state.item;
  if (!item || item.mode !== "ranking" || state.ranking.length !== item.candidates.length) return;
  const labels = state.ranking.map((id) => item.candidates.find((c) => c.candidate_id === id).label);
  guarded(() => submit({ ranking: [...state.ranking] }, `ranking ${labels.join(" > ")}`));
}

function skip() {
  if (!state.item) return;
  guarded(async () => {
    state.skipped.push(state.item.request_id);
    status("Skipped.", "info");
    await next();
  });
}

function undo() {
  guarded(async () => {
    const last = state.undo[state.undo.length - 1];
    const result = await api("/ui/api/undo", { method: "POST", data: last ? { event_id: last.event_id } : {} });
    if (last) state.undo.pop();
    state.session = Math.max(0, state.session - 1);
    state.skipped = state.skipped.filter((id) => id !== result.request_id);
    const again = await api(`/ui/api/queue/item/${encodeURIComponent(result.request_id)}?annotators=${settings().annotators}`);
    show(again.item, again.progress);
    status("Undone: the last judgment was withdrawn (a retraction was recorded).", "ok");
  });
}

function onKey(event) {
  if (event.ctrlKey || event.metaKey || event.altKey || typing(event)) return;
  const item = state.item;
  const key = event.key;
  if (key === "u") undo();
  else if (key === "s") skip();
  else if (item && item.mode === "pair" && ["1", "2", "3", "4"].includes(key)) choose(["a", "b", "tie", "both_bad"][Number(key) - 1]);
  else if (item && item.mode === "ranking" && /^[1-9]$/.test(key)) rankNext(Number(key) - 1);
  else if (item && item.mode === "ranking" && key === "Backspace") {
    state.ranking.pop();
    renderRanking();
  } else if (item && item.mode === "ranking" && key === "Enter") submitRanking();
  else return;
  event.preventDefault();
}

function start() {
  document.querySelectorAll("[data-choice]").forEach((button) => {
    button.addEventListener("click", () => choose(button.dataset.choice));
  });
  $("skip").addEventListener("click", skip);
  $("undo").addEventListener("click", undo);
  $("rank-submit").addEventListener("click", submitRanking);
  $("rank-clear").addEventListener("click", () => {
    state.ranking = [];
    renderRanking();
  });
  for (const id of ["policy", "annotators"]) {
    $(id).addEventListener("change", () => {
      state.skipped = [];
      guarded(next);
    });
  }
  document.addEventListener("keydown", onKey);
  guarded(next).then(() => document.body.setAttribute("data-ready", "1"));
}

start();
