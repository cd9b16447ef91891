// View state lives in the query string, so every view has a shareable URL.

export function params() {
  return new URLSearchParams(window.location.search);
}

export function get(name, fallback = null) {
  const value = params().get(name);
  return value === null || value === "" ? fallback : value;
}

export function getInt(name) {
  const value = get(name);
  if (value === null || !/^-?\d+$/.test(value)) return null;
  return Number(value);
}

export function getFloat(name) {
  const value = get(name);
  if (value === null) return null;
  const number = Number(value);
  return Number.isFinite(number) ? number : null;
}

export function getInts(name) {
  const value = get(name);
  if (value === null) return [];
  return value.split(",").filter((part) => /^-?\d+$/.test(part.trim())).map(Number);
}

// Apply {name: value} changes (null/""/[] removes the name); push adds a history entry.
export function update(changes, { push = false } = {}) {
  const next = params();
  for (const [name, value] of Object.entries(changes)) {
    const empty = value === null || value === undefined || value === "" || (Array.isArray(value) && value.length === 0);
    if (empty) next.delete(name);
    else next.set(name, Array.isArray(value) ? value.join(",") : String(value));
  }
  const query = next.toString();
  const url = `${window.location.pathname}${query ? `?${query}` : ""}`;
  if (url === `${window.location.pathname}${window.location.search}`) return;
  window.history[push ? "pushState" : "replaceState"](null, "", url);
}

export function href(changes) {
  const next = new URLSearchParams();
  for (const [name, value] of Object.entries(changes)) {
    if (value === null || value === undefined || value === "" || (Array.isArray(value) && !value.length)) continue;
    next.set(name, Array.isArray(value) ? value.join(",") : String(value));
  }
  return `?${next.toString()}`;
}
