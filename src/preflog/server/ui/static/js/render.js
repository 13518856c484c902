// Safe rendering of model outputs and prompts: a tiny Markdown subset (fenced code, inline code,
// bold, bullet and numbered lists, headers, paragraphs) built as DOM nodes whose text is set with
// textContent. Nothing in the input is ever parsed as HTML, so `<script>` or `onerror=` stay text.

import { el } from "./common.js";

const FENCE = /^\s*(```|~~~)\s*([\w+-]*)\s*$/;
const HEADER = /^(#{1,6})\s+(.*)$/;
const BULLET = /^\s*[-*+]\s+(.*)$/;
const NUMBERED = /^\s*\d+[.)]\s+(.*)$/;

/** Inline code and **bold** inside one line of text, as DOM nodes. */
export function inline(text) {
  const out = [];
  const pattern = /(`+)([^`]+?)\1|\*\*([^*]+)\*\*|__([^_]+)__/g;
  let last = 0;
  for (const match of text.matchAll(pattern)) {
    if (match.index > last) out.push(document.createTextNode(text.slice(last, match.index)));
    if (match[2] !== undefined) out.push(el("code", { text: match[2] }));
    else out.push(el("strong", { text: match[3] ?? match[4] }));
    last = match.index + match[0].length;
  }
  if (last < text.length) out.push(document.createTextNode(text.slice(last)));
  return out;
}

/** A Markdown-ish string as a fragment of safe nodes. */
export function markdown(text) {
  const root = document.createDocumentFragment();
  const lines = String(text ?? "").replace(/\r\n?/g, "\n").split("\n");
  let paragraph = [];
  let list = null;
  const flushParagraph = () => {
    if (paragraph.length) {
      const p = el("p");
      paragraph.forEach((line, i) => {
        if (i) p.append(el("br"));
        p.append(...inline(line));
      });
      root.append(p);
      paragraph = [];
    }
  };
  const flushList = () => {
    if (list) root.append(list);
    list = null;
  };
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    const fence = line.match(FENCE);
    if (fence) {
      flushParagraph();
      flushList();
      const code = [];
      i++;
      while (i < lines.length && !FENCE.test(lines[i])) code.push(lines[i++]);
      const attrs = fence[2] ? { "data-lang": fence[2] } : {};
      root.append(el("pre", attrs, el("code", { text: code.join("\n") })));
      continue;
    }
    const header = line.match(HEADER);
    const bullet = line.match(BULLET);
    const numbered = line.match(NUMBERED);
    if (header) {
      flushParagraph();
      flushList();
      root.append(el("p", { class: `md-h md-h${header[1].length}`, role: "heading", "aria-level": Math.min(6, header[1].length + 2) }, ...inline(header[2])));
    } else if (bullet || numbered) {
      flushParagraph();
      const tag = bullet ? "ul" : "ol";
      if (!list || list.tagName.toLowerCase() !== tag) {
        flushList();
        list = el(tag);
      }
      list.append(el("li", {}, ...inline((bullet || numbered)[1])));
    } else if (!line.trim()) {
      flushParagraph();
      flushList();
    } else {
      flushList();
      paragraph.push(line);
    }
  }
  flushParagraph();
  flushList();
  return root;
}

/** What one chat turn says: its text (an empty answer said so), a refusal, its tool calls. */
export function turnBody(message, answer = true) {
  const body = el("div", { class: "md" });
  const calls = Array.isArray(message.tool_calls) ? message.tool_calls : [];
  const content = message.content;
  if (typeof content === "string" && content !== "") body.append(markdown(content));
  else if (answer && !calls.length && message.refusal == null) body.append(el("p", { class: "muted empty-answer", text: "(empty answer)" }));
  if (message.refusal != null) body.append(el("p", { class: "refusal" }, el("span", { class: "badge warn", text: "refusal" }), ` ${message.refusal}`));
  for (const call of calls) {
    const fn = call.function || {};
    body.append(el("pre", { class: "tool-call" }, el("code", { text: `${fn.name ?? "?"}(${fn.arguments ?? ""})` })));
  }
  return body;
}

/** A chat prompt (list of {role, content, tool_calls?, name?}) as a list of message bubbles. */
export function conversation(target, messages) {
  for (const message of messages) {
    const role = String(message.role || "user");
    const label = role === "tool" && message.name ? `tool ${message.name}` : role;
    target.append(
      el("li", { class: `msg msg-${role.replace(/[^a-z]/g, "")}` },
        el("span", { class: "role", text: label }),
        turnBody(message, role === "assistant"),
      ),
    );
  }
}

/** A candidate's reply: its output (with refusal and tool calls), or a multi-message
 * continuation as its turns; erased content says so. */
export function reply(cand) {
  if (Array.isArray(cand.messages)) {
    const turns = el("ol", { class: "conversation continuation" });
    conversation(turns, cand.messages);
    return el("div", { class: "output" }, turns);
  }
  if (cand.output === undefined || cand.output === null) {
    if (!cand.tool_calls && cand.refusal == null) return el("p", { class: "erased", text: "(content erased)" });
  }
  const body = turnBody({ content: cand.output, refusal: cand.refusal, tool_calls: cand.tool_calls });
  body.classList.add("output");
  return body;
}
