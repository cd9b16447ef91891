// The header: served model version, build time, sizes and the NDCG@10 chart from modelInfo.

import { gql } from "./api.js";
import { h, replace, fmt, errorBox } from "./dom.js";
import { barChart } from "./charts.js";

const BASELINES = new Set(["popularity", "random"]);

export function modelKind(name) {
  if (BASELINES.has(name)) return "baseline";
  if (name.startsWith("hybrid")) return "hybrid";
  return "model";
}

// Rows of the chart: NDCG@10 over all customers per evaluated model, best first.
export function ndcgRows(metrics, segment = "all", metric = "ndcg@10") {
  const models = metrics?.models ?? {};
  return Object.entries(models)
    .map(([name, result]) => ({ label: name, value: result?.segments?.[segment]?.[metric], kind: modelKind(name) }))
    .filter((row) => typeof row.value === "number")
    .sort((a, b) => b.value - a.value);
}

function fact(label, value, testid) {
  return h("div", {}, h("dt", {}, label), h("dd", { dataset: { testid } }, value));
}

export async function renderHeader() {
  // The chart is open on laptop widths and folded away on phones.
  document.getElementById("metrics").open = window.matchMedia("(min-width: 861px)").matches;
  const facts = document.getElementById("model-facts");
  const chart = document.getElementById("metrics-chart");
  try {
    const { modelInfo: info } = await gql(`{ modelInfo { version buildTime loadedAt products customers
      productRules categoryRules metrics } }`);
    replace(facts,
      fact("model", info.version, "model-version"),
      fact("built", fmt.dateTime(info.buildTime), "build-time"),
      fact("catalogue", `${fmt.int(info.products)} products · ${fmt.int(info.customers)} customers`, "sizes"),
      fact("rules", `${fmt.int(info.productRules)} product · ${fmt.int(info.categoryRules)} category`, "rule-counts"));
    const rows = ndcgRows(info.metrics);
    if (!rows.length) {
      replace(chart, h("p", { class: "muted" }, "This build was published without an evaluation (build with evaluation to see metrics)."));
      return;
    }
    const cutoff = info.metrics.cutoff ? `Orders after ${fmt.date(info.metrics.cutoff)} held out` : "";
    replace(chart,
      barChart(rows, { title: "NDCG@10 per model", width: 560, row: 17, label: 180 }),
      h("p", { class: "legend-line" },
        h("span", { class: "key key-hybrid" }), "recograph hybrid ",
        h("span", { class: "key key-model" }), "single signals ",
        h("span", { class: "key key-baseline" }), "baselines",
        cutoff ? h("span", { class: "muted" }, ` · ${cutoff}; ${fmt.int(info.metrics.users)} customers evaluated.`) : null));
  } catch (error) {
    replace(facts, h("div", {}, errorBox(error, "the model info")));
    replace(chart);
  }
}

// Several stores in one deployment: the playground of a named store is served at
// /stores/<name>/ (its queries go to /stores/<name>/graphql), the default store's at /.
export function storeOfPath(pathname) {
  const match = /^(.*?)\/stores\/([a-z0-9][a-z0-9_-]*)\/?/.exec(pathname);
  if (!match) return { root: pathname.replace(/[^/]*$/, ""), store: "default" };
  return { root: `${match[1]}/`, store: match[2] };
}

export function storePage(root, store) {
  return store === "default" ? root : `${root}stores/${store}/`;
}

// The store picker: shown when the server has more than one store; choosing one opens its
// playground.
export async function renderStorePicker() {
  const label = document.getElementById("store-picker-label");
  const select = document.getElementById("store-picker");
  const { root, store } = storeOfPath(window.location.pathname);
  let stores = [];
  try {
    const response = await fetch(new URL(`${root}stores`, window.location.origin));
    if (!response.ok) return;
    stores = (await response.json()).stores.map((row) => row.store);
  } catch {
    return;
  }
  if (!stores.includes(store)) stores.unshift(store);
  if (stores.length < 2) return;
  replace(select, ...stores.map((name) => h("option", { value: name, selected: name === store }, name)));
  select.addEventListener("change", () => { window.location.href = storePage(root, select.value); });
  label.hidden = false;
}
