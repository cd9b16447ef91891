// Small SVG charts: horizontal bars, a scatter plot, a heat map and a dated strip.
// Every chart is a pure function from data to an <svg> element with a <title> per mark.

import { s, fmt } from "./dom.js";

export const SIGNAL_COLOURS = {
  CF: "#4e79a7",
  CONTENT: "#f28e2b",
  RULES: "#59a14f",
  POPULARITY: "#b07aa1",
};

export function linear([d0, d1], [r0, r1]) {
  const span = d1 - d0 || 1;
  return (x) => r0 + ((x - d0) / span) * (r1 - r0);
}

// About `count` round tick values covering [lo, hi].
export function ticks(lo, hi, count = 5) {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / count;
  const power = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * power).find((m) => m >= raw) ?? raw;
  const out = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(Number(v.toPrecision(12)));
  return out;
}

// Sequential colour ramp (light yellow -> teal -> deep blue) for t in [0, 1].
const RAMP = [
  [255, 247, 188],
  [161, 218, 180],
  [65, 182, 196],
  [34, 94, 168],
  [12, 44, 132],
];

export function ramp(t) {
  const x = Math.max(0, Math.min(1, Number.isFinite(t) ? t : 0)) * (RAMP.length - 1);
  const i = Math.min(RAMP.length - 2, Math.floor(x));
  const f = x - i;
  const [a, b] = [RAMP[i], RAMP[i + 1]];
  const c = a.map((v, k) => Math.round(v + f * (b[k] - v)));
  return `rgb(${c[0]}, ${c[1]}, ${c[2]})`;
}

function legendRamp(x, y, width, label, lo, hi, format) {
  const id = `ramp-${Math.random().toString(36).slice(2, 9)}`;
  const stops = [0, 0.25, 0.5, 0.75, 1].map((t) => s("stop", { offset: `${t * 100}%`, "stop-color": ramp(t) }));
  return s("g", { class: "legend", transform: `translate(${x},${y})` },
    s("defs", {}, s("linearGradient", { id }, ...stops)),
    s("text", { x: 0, y: -4, class: "axis-label" }, label),
    s("rect", { x: 0, y: 0, width, height: 8, fill: `url(#${id})` }),
    s("text", { x: 0, y: 20, class: "tick" }, format(lo)),
    s("text", { x: width, y: 20, class: "tick", "text-anchor": "end" }, format(hi)));
}

// Horizontal bars: rows = [{label, value, kind}] (kind is a CSS class suffix).
export function barChart(rows, { width = 520, row = 18, label = 170, format = (v) => fmt.num(v, 3), max = null, title = "" } = {}) {
  const top = 4;
  const height = top + rows.length * row + 22;
  const right = 48;
  const hi = max ?? Math.max(1e-9, ...rows.map((r) => r.value));
  const x = linear([0, hi], [label, width - right]);
  const grid = ticks(0, hi, 4).map((t) => s("g", {},
    s("line", { x1: x(t), x2: x(t), y1: top, y2: top + rows.length * row, class: "grid" }),
    s("text", { x: x(t), y: top + rows.length * row + 14, class: "tick", "text-anchor": "middle" }, format(t))));
  const bars = rows.map((r, i) => {
    const y = top + i * row;
    return s("g", { class: ["bar", r.kind && `bar-${r.kind}`] },
      s("title", {}, `${r.label}: ${format(r.value)}${r.note ? ` (${r.note})` : ""}`),
      s("text", { x: label - 6, y: y + row * 0.68, class: "bar-label", "text-anchor": "end" }, r.label),
      s("rect", { x: label, y: y + 3, width: Math.max(0.5, x(r.value) - label), height: row - 6, rx: 2 }),
      s("text", { x: x(r.value) + 4, y: y + row * 0.68, class: "bar-value" }, format(r.value)));
  });
  return s("svg", { viewBox: `0 0 ${width} ${height}`, class: "chart bar-chart", role: "img", "aria-label": title || "bar chart" },
    title ? s("title", {}, title) : null, ...grid, ...bars);
}

// Round ticks on a log axis (1, 2, 5 × powers of ten) between lo and hi.
export function logTicks(lo, hi) {
  const out = [];
  for (let power = Math.floor(Math.log10(lo)); power <= Math.ceil(Math.log10(hi)); power++) {
    for (const m of [1, 2, 5]) {
      const v = m * 10 ** power;
      if (v >= lo * 0.999 && v <= hi * 1.001) out.push(Number(v.toPrecision(6)));
    }
  }
  return out;
}

// Scatter: points = [{x, y, c, title, ring}]; colour by c on a ramp (log scales when asked).
export function scatter(points, { width = 560, height = 360, xLabel = "x", yLabel = "y", cLabel = "colour", logColour = false, logX = false, onPick = null } = {}) {
  const m = { left: 52, right: 16, top: 16, bottom: 80 };
  const xs = points.map((p) => p.x);
  const ys = points.map((p) => p.y);
  const cs = points.map((p) => p.c);
  const positive = xs.filter((v) => v > 0);
  const xLo = logX ? Math.min(...positive) / 1.15 : 0;
  const xHi = Math.max(1e-9, ...xs) * (logX ? 1.15 : 1.05);
  const yHi = Math.min(1, Math.max(1e-9, ...ys) * 1.05);
  const xt = logX ? (v) => Math.log10(Math.max(v, xLo)) : (v) => v;
  const xScale = linear([xt(xLo), xt(xHi)], [m.left, width - m.right]);
  const x = (v) => xScale(xt(v));
  const y = linear([0, yHi], [height - m.bottom, m.top]);
  const cLo = Math.min(...cs);
  const cHi = Math.max(...cs);
  const tf = logColour ? (v) => Math.log(Math.max(v, 1e-9)) : (v) => v;
  const cT = linear([tf(cLo), tf(cHi)], [0, 1]);
  const xTicks = logX ? logTicks(xLo, xHi) : ticks(0, xHi, 5);
  const yTicks = ticks(0, yHi, 5);
  const plotBottom = height - m.bottom;
  const axes = [
    ...xTicks.map((t) => s("g", {},
      s("line", { x1: x(t), x2: x(t), y1: m.top, y2: plotBottom, class: "grid" }),
      s("text", { x: x(t), y: plotBottom + 14, class: "tick", "text-anchor": "middle" }, formatTick(t)))),
    ...yTicks.map((t) => s("g", {},
      s("line", { x1: m.left, x2: width - m.right, y1: y(t), y2: y(t), class: "grid" }),
      s("text", { x: m.left - 6, y: y(t) + 4, class: "tick", "text-anchor": "end" }, formatTick(t)))),
    s("text", { x: (m.left + width - m.right) / 2, y: plotBottom + 30, class: "axis-label", "text-anchor": "middle" }, xLabel),
    s("text", { x: 12, y: (m.top + plotBottom) / 2, class: "axis-label", "text-anchor": "middle", transform: `rotate(-90 12 ${(m.top + plotBottom) / 2})` }, yLabel),
  ];
  // The strongest colour is drawn last so it stays visible; ringed points on top of all.
  const order = points.map((p, i) => i).sort((a, b) => (Number(Boolean(points[a].ring)) - Number(Boolean(points[b].ring))) || (cs[a] - cs[b]));
  const marks = order.map((i) => {
    const p = points[i];
    return s("circle", {
      cx: x(p.x).toFixed(1), cy: y(p.y).toFixed(1), r: p.ring ? 5 : 3.2,
      fill: ramp(cT(tf(p.c))), class: p.ring ? "dot ring" : "dot",
      onclick: onPick ? () => onPick(p) : null,
    }, s("title", {}, p.title));
  });
  return s("svg", { viewBox: `0 0 ${width} ${height}`, class: "chart scatter", role: "img", "aria-label": `${yLabel} against ${xLabel}, coloured by ${cLabel}` },
    ...axes, s("g", { class: "marks" }, ...marks),
    points.length ? legendRamp(m.left, height - 26, 200, cLabel, cLo, cHi, (v) => fmt.num(v, 1)) : null);
}

function formatTick(t) {
  return String(Number(t.toPrecision(3)));
}

// Heat map: labels[i] names row/column i; values[i][j] a similarity or null (unknown). Colours
// run from 0 to the largest pair so the contrast is spent where the pairs are.
export function heatMap(labels, values, { cell = 30, label = 175, highlight = -1, onPick = null } = {}) {
  const n = labels.length;
  const top = label;
  const width = label + n * cell + label * 0.55;
  const height = top + n * cell + 44;
  let hi = 1e-9;
  values.forEach((row, i) => row.forEach((v, j) => { if (i !== j && v !== null) hi = Math.max(hi, v); }));
  const short = (text) => (text.length > 22 ? `${text.slice(0, 21)}…` : text);
  const cells = [];
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      const v = values[i][j];
      const self = i === j;
      cells.push(s("rect", {
        x: label + j * cell, y: top + i * cell, width: cell - 1, height: cell - 1,
        class: self ? "cell cell-self" : v === null ? "cell cell-missing" : "cell", fill: self || v === null ? null : ramp(v / hi),
      }, s("title", {}, self ? labels[i] : `${labels[i]} × ${labels[j]}: ${v === null ? "not among each other's nearest neighbours" : fmt.num(v, 3)}`)));
      if (v !== null && !self && cell >= 26) {
        cells.push(s("text", { x: label + j * cell + cell / 2, y: top + i * cell + cell / 2 + 3, class: ["cell-text", v / hi > 0.6 && "cell-text-dark"], "text-anchor": "middle" }, v.toFixed(2).replace(/^0/, "")));
      }
    }
  }
  const rowLabels = labels.map((text, i) => s("text", {
    x: label - 6, y: top + i * cell + cell / 2 + 4, "text-anchor": "end",
    class: ["heat-label", i === highlight && "heat-label-on", onPick && "clickable"], onclick: onPick ? () => onPick(i) : null,
  }, s("title", {}, text), short(text)));
  const colLabels = labels.map((text, j) => {
    const cx = label + j * cell + cell / 2 + 4;
    return s("text", { x: cx, y: top - 6, transform: `rotate(-60 ${cx} ${top - 6})`, class: ["heat-label", j === highlight && "heat-label-on"] }, s("title", {}, text), short(text));
  });
  const frame = highlight >= 0 ? [
    s("rect", { x: label - 1, y: top + highlight * cell - 1, width: n * cell + 1, height: cell + 1, class: "heat-frame" }),
    s("rect", { x: label + highlight * cell - 1, y: top - 1, width: cell + 1, height: n * cell + 1, class: "heat-frame" }),
  ] : [];
  return s("svg", { viewBox: `0 0 ${width} ${height}`, width, class: "chart heat-map", role: "img", "aria-label": "content similarity heat map" },
    ...cells, ...frame, ...rowLabels, ...colLabels,
    legendRamp(label, top + n * cell + 22, Math.min(200, n * cell), "similarity", 0, hi, (v) => fmt.num(v, 2)));
}

// A dated strip: points = [{date (ISO), value in [0, 1], size, title, hit}]; value drawn as height.
export function dateStrip(points, { width = 760, height = 150, yLabel = "hit rate" } = {}) {
  const m = { left: 44, right: 16, top: 14, bottom: 30 };
  const times = points.map((p) => Date.parse(p.date));
  const lo = Math.min(...times);
  const hi = Math.max(...times);
  const pad = (hi - lo) * 0.04 || 86400000 * 15;
  const x = linear([lo - pad, hi + pad], [m.left, width - m.right]);
  const y = linear([0, 1], [height - m.bottom, m.top]);
  const years = [];
  const first = new Date(lo - pad);
  for (let year = first.getUTCFullYear(); year <= new Date(hi + pad).getUTCFullYear(); year++) {
    for (const month of [0, 6]) {
      const t = Date.UTC(year, month, 1);
      if (t >= lo - pad && t <= hi + pad) years.push({ t, label: month === 0 ? String(year) : `Jul ${year}` });
    }
  }
  const grid = [
    ...[0, 0.5, 1].map((v) => s("g", {},
      s("line", { x1: m.left, x2: width - m.right, y1: y(v), y2: y(v), class: "grid" }),
      s("text", { x: m.left - 6, y: y(v) + 4, class: "tick", "text-anchor": "end" }, fmt.pct(v)))),
    ...years.map(({ t, label }) => s("g", {},
      s("line", { x1: x(t), x2: x(t), y1: m.top, y2: height - m.bottom, class: "grid" }),
      s("text", { x: x(t), y: height - m.bottom + 16, class: "tick", "text-anchor": "middle" }, label))),
    s("text", { x: 10, y: (m.top + height - m.bottom) / 2, class: "axis-label", "text-anchor": "middle", transform: `rotate(-90 10 ${(m.top + height - m.bottom) / 2})` }, yLabel),
  ];
  const path = points.map((p, i) => `${i ? "L" : "M"}${x(times[i]).toFixed(1)},${y(p.value).toFixed(1)}`).join(" ");
  const marks = points.map((p, i) => s("circle", {
    cx: x(times[i]).toFixed(1), cy: y(p.value).toFixed(1), r: p.size ?? 5, class: p.hit ? "dot dot-hit" : "dot dot-miss",
  }, s("title", {}, p.title)));
  return s("svg", { viewBox: `0 0 ${width} ${height}`, class: "chart date-strip", role: "img", "aria-label": `${yLabel} per order over time` },
    ...grid, s("path", { d: path, class: "strip-line" }), ...marks);
}

// One item's score split by signal: a stacked bar of weight × score per signal.
export function contributionBar(contributions, { width = 120, height = 10 } = {}) {
  const parts = contributions.map((c) => ({ ...c, share: c.weight * c.score })).filter((c) => c.share > 0);
  let x = 0;
  const rects = parts.map((c) => {
    const w = c.share * width;
    const rect = s("rect", { x: x.toFixed(1), y: 0, width: Math.max(0.5, w).toFixed(1), height, fill: SIGNAL_COLOURS[c.signal] ?? "#999" },
      s("title", {}, `${c.signal}: score ${fmt.num(c.score, 2)} × weight ${fmt.num(c.weight, 2)} = ${fmt.num(c.share, 3)}`));
    x += w;
    return rect;
  });
  return s("svg", { viewBox: `0 0 ${width} ${height}`, width, height, class: "contribution-bar", role: "img", "aria-label": "score by signal" },
    s("rect", { x: 0, y: 0, width, height, class: "contribution-track" }), ...rects);
}
