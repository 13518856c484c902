// Shared helpers. Every piece of text from the server goes into the DOM through textContent or
// setAttribute (never innerHTML), so content cannot become markup.

export const body = document.body;
export const csrf = body.dataset.csrf || "";

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message || code || `HTTP ${status}`);
    this.status = status;
    this.code = code;
  }
}

/** JSON call to the UI API; POSTs carry the CSRF token. A lost session goes back to sign-in. */
export async function api(path, { method = "GET", data, signal } = {}) {
  const init = { method, headers: { Accept: "application/json" }, credentials: "same-origin", signal };
  if (data !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(data);
  }
  if (method !== "GET") init.headers["X-CSRF-Token"] = csrf;
  const response = await fetch(path, init);
  let payload = null;
  try {
    payload = await response.json();
  } catch {
    payload = null;
  }
  if (response.status === 401) {
    window.location.assign("/ui/login?next=" + encodeURIComponent(location.pathname + location.search));
  }
  if (!response.ok) {
    throw new ApiError(response.status, payload && payload.error, payload && payload.message);
  }
  return payload;
}

/** el("p", {class: "x", text: "hi"}, child...) — attributes by setAttribute, text by textContent. */
export function el(tag, attrs = {}, ...children) {
  const svg = ["svg", "g", "rect", "line", "text", "circle", "path", "title", "polyline", "polygon"].includes(tag);
  const node = svg ? document.createElementNS("http://www.w3.org/2000/svg", tag) : document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "text") node.textContent = String(value);
    else if (key.startsWith("on") && typeof value === "function") node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

export function clear(node) {
  while (node.firstChild) node.removeChild(node.firstChild);
  return node;
}

export function status(message, kind = "info") {
  const box = document.getElementById("status");
  if (!box) return;
  box.textContent = message || "";
  box.dataset.kind = kind;
}

export function fmtTime(iso) {
  if (!iso) return "—";
  return iso.replace("T", " ").replace(/\.\d+Z$/, "Z").replace(/Z$/, " UTC");
}

export function fmtNumber(value, digits = 2) {
  if (value === null || value === undefined || Number.isNaN(value)) return "—";
  return Number(value).toFixed(digits);
}

/** True when a key press belongs to a form control (shortcuts must not fire there). */
export function typing(event) {
  const t = event.target;
  if (!(t instanceof Element)) return false;
  return t.closest("input, textarea, select, [contenteditable]") !== null;
}
