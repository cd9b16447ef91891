// Tiny DOM helpers: build elements from data, format numbers and dates, debounce input.

const SVG_NS = "http://www.w3.org/2000/svg";

function append(parent, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    parent.append(child instanceof Node ? child : String(child));
  }
}

// h("div", {class: "x", dataset: {testid: "y"}, onclick: fn}, child, [children]) -> element
export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props ?? {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "class") el.className = Array.isArray(value) ? value.filter(Boolean).join(" ") : value;
    else if (key === "dataset") Object.assign(el.dataset, value);
    else if (key === "text") el.textContent = value;
    else if (key === "style") Object.assign(el.style, value);
    else if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
    else if (key in el && typeof value !== "string") el[key] = value;
    else el.setAttribute(key, value === true ? "" : String(value));
  }
  append(el, children);
  return el;
}

// s("rect", {x: 1, width: 3}, child) -> SVG element
export function s(tag, attrs = {}, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  for (const [key, value] of Object.entries(attrs ?? {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "text") el.textContent = value;
    else if (key === "class") el.setAttribute("class", Array.isArray(value) ? value.filter(Boolean).join(" ") : value);
    else if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
    else el.setAttribute(key, String(value));
  }
  append(el, children);
  return el;
}

export function replace(node, ...children) {
  node.replaceChildren();
  append(node, children);
  return node;
}

export function debounce(fn, ms) {
  let timer = 0;
  return (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), ms);
  };
}

export const fmt = {
  num(x, digits = 3) {
    if (x === null || x === undefined || Number.isNaN(x)) return "–";
    return Number(x).toFixed(digits);
  },
  pct(x, digits = 0) {
    if (x === null || x === undefined) return "–";
    return `${(100 * x).toFixed(digits)}%`;
  },
  money(x) {
    return x === null || x === undefined ? "–" : `$${Number(x).toLocaleString("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 })}`;
  },
  date(iso) {
    if (!iso) return "–";
    return String(iso).slice(0, 10);
  },
  dateTime(iso) {
    if (!iso) return "–";
    return String(iso).replace("T", " ").slice(0, 16);
  },
  int(x) {
    return x === null || x === undefined ? "–" : Number(x).toLocaleString("en-US");
  },
};

// A horizontal bar (0..1 of its track), drawn with CSS.
export function meter(value, max = 1, kind = "") {
  const share = max > 0 ? Math.max(0, Math.min(1, value / max)) : 0;
  return h("span", { class: ["meter", kind], "aria-hidden": "true" },
    h("span", { class: "meter-fill", style: { width: `${(100 * share).toFixed(1)}%` } }));
}

export function badge(text, kind = "") {
  return h("span", { class: ["badge", kind && `badge-${kind.toLowerCase()}`] }, text);
}

export function section(title, ...children) {
  return h("section", { class: "panel" }, h("h2", {}, title), ...children);
}

export function empty(text) {
  return h("p", { class: "empty" }, text);
}

export function loading(text = "Loading…") {
  return h("p", { class: "loading", role: "status" }, text);
}

// A readable error box for an ApiError (or any Error).
export function errorBox(error, what = "") {
  const code = error?.code && error.code !== "ERROR" ? ` (${error.code})` : "";
  return h("div", { class: "error", role: "alert", dataset: { testid: "error" } },
    h("strong", {}, what ? `Could not load ${what}: ` : "Error: "),
    `${error?.message ?? String(error)}${code}`);
}
