// View 2: the association rules explorer. Product- and category-level rules filtered by minimum
// lift, confidence and support and by category, sortable, paginated, with a support-vs-confidence
// scatter coloured by lift.

import { gql, latest, walk, categories } from "../api.js";
import { h, replace, debounce, errorBox, loading, fmt, meter } from "../dom.js";
import * as url from "../url.js";
import { scatter } from "../charts.js";

const PAGE_SIZE = 20;
const SCATTER_MAX = 5000;
const ORDERS = [
  ["SUPPORT", "support", "Support"],
  ["CONFIDENCE", "confidence", "Confidence"],
  ["LIFT", "lift", "Lift"],
  ["COUNT", "count", "Orders"],
];

const PAGE_QUERY = `query Rules($filter: RuleFilter, $order: RuleOrder!, $first: Int!, $after: String) {
  associationRules(filter: $filter, orderBy: $order, first: $first, after: $after) {
    totalCount pageInfo { hasNextPage endCursor }
    edges { cursor node { id level antecedents consequents support confidence lift leverage conviction count
      antecedentProducts { id category } consequentProducts { id category } } } } }`;

// Every matching rule's metrics (for the scatter) and cursors (to jump to any page).
const POINTS_QUERY = `query RulePoints($filter: RuleFilter, $order: RuleOrder!, $first: Int!, $after: String) {
  associationRules(filter: $filter, orderBy: $order, first: $first, after: $after) {
    totalCount pageInfo { hasNextPage endCursor }
    edges { cursor node { id support confidence lift } } } }`;

function readState() {
  const order = (url.get("order") ?? "LIFT").toUpperCase();
  return {
    level: url.get("level") === "CATEGORY" ? "CATEGORY" : "PRODUCT",
    minLift: url.getFloat("minLift"),
    minConfidence: url.getFloat("minConf"),
    minSupport: url.getFloat("minSupport"),
    category: url.get("cat"),
    order: ORDERS.some(([o]) => o === order) ? order : "LIFT",
    page: Math.max(0, (url.getInt("p") ?? 1) - 1),
  };
}

function filterOf(state) {
  const filter = { level: state.level };
  if (state.minLift !== null) filter.minLift = state.minLift;
  if (state.minConfidence !== null) filter.minConfidence = state.minConfidence;
  if (state.minSupport !== null) filter.minSupport = state.minSupport;
  if (state.category) filter.category = state.category;
  return filter;
}

function numberInput(label, value, { step, min = 0, max = null, testid, onChange }) {
  return h("label", { class: "field" }, h("span", { class: "field-label" }, label),
    h("input", {
      type: "number", step, min, max, value: value ?? "", placeholder: "any", dataset: { testid },
      oninput: debounce((event) => {
        const raw = event.target.value.trim();
        const number = raw === "" ? null : Number(raw);
        if (raw === "" || Number.isFinite(number)) onChange(number);
      }, 250),
    }));
}

function side(names) {
  return h("span", { class: "itemset" }, names.map((name, i) => [i ? h("span", { class: "plus" }, " + ") : null, h("span", { class: "item" }, name)]));
}

export function render(root, { setState }) {
  const state = readState();
  const request = latest();
  const pointsRequest = latest();
  const tableBox = h("div", { class: "table-box", dataset: { testid: "rules-table" } }, loading());
  const chartBox = h("div", { class: "chart-box", dataset: { testid: "rules-scatter" } }, loading("Collecting the rules to plot…"));
  const summary = h("p", { class: "summary", dataset: { testid: "rules-summary" } });
  let cursors = [];
  let pageIds = new Set();
  let points = null;

  const persist = () => setState({
    level: state.level === "PRODUCT" ? null : state.level,
    minLift: state.minLift, minConf: state.minConfidence, minSupport: state.minSupport,
    cat: state.category, order: state.order === "LIFT" ? null : state.order, p: state.page ? state.page + 1 : null,
  });

  const drawScatter = () => {
    if (!points) return;
    const shown = points.edges.map(({ node }) => ({
      x: node.support, y: node.confidence, c: node.lift, ring: pageIds.has(node.id),
      title: `rule ${node.id}: support ${fmt.num(node.support, 4)}, confidence ${fmt.num(node.confidence, 3)}, lift ${fmt.num(node.lift, 2)}`,
    }));
    replace(chartBox,
      shown.length
        ? scatter(shown, { xLabel: "support (share of orders, log scale)", yLabel: "confidence", cLabel: "lift (log colour scale)", logColour: true, logX: true })
        : h("p", { class: "empty" }, "No rules to plot."),
      h("p", { class: "muted" }, `${fmt.int(shown.length)} rules plotted${points.totalCount > shown.length ? ` (the first ${fmt.int(shown.length)} of ${fmt.int(points.totalCount)} by ${state.order.toLowerCase()})` : ""}; rules on this page are ringed.`));
  };

  const loadPage = async () => {
    const after = state.page === 0 ? null : cursors[state.page * PAGE_SIZE - 1] ?? null;
    if (state.page > 0 && after === null) {
      // A shared link to a later page: wait for the cursors, then come back.
      return;
    }
    tableBox.classList.add("stale");
    request(() => gql(PAGE_QUERY, { filter: filterOf(state), order: state.order, first: PAGE_SIZE, after }), (data) => {
      tableBox.classList.remove("stale");
      const connection = data.associationRules;
      pageIds = new Set(connection.edges.map(({ node }) => node.id));
      renderTable(connection);
      drawScatter();
    }, (error) => {
      tableBox.classList.remove("stale");
      replace(tableBox, errorBox(error, "the rules"));
      summary.textContent = "";
    });
  };

  const loadPoints = () => {
    points = null;
    cursors = [];
    replace(chartBox, loading("Collecting the rules to plot…"));
    pointsRequest(
      () => walk(POINTS_QUERY, { filter: filterOf(state), order: state.order }, (data) => data.associationRules, { max: SCATTER_MAX }),
      (result) => {
        points = result;
        cursors = result.edges.map((edge) => edge.cursor);
        drawScatter();
        if (state.page * PAGE_SIZE >= Math.max(result.totalCount, 1)) state.page = 0;
        if (!pageIds.size) loadPage();
      },
      (error) => replace(chartBox, errorBox(error, "the rules to plot")),
    );
  };

  const reload = () => {
    state.page = 0;
    persist();
    loadPoints();
    loadPage();
  };

  const goTo = (page) => {
    state.page = page;
    persist();
    loadPage();
  };

  const renderTable = (connection) => {
    const total = connection.totalCount;
    const pages = Math.max(1, Math.ceil(total / PAGE_SIZE));
    const first = state.page * PAGE_SIZE;
    summary.textContent = total
      ? `Rules ${fmt.int(first + 1)}–${fmt.int(first + connection.edges.length)} of ${fmt.int(total)} ${state.level === "PRODUCT" ? "product" : "category"}-level rules`
      : "No rule matches these filters.";
    const header = h("tr", {},
      h("th", { scope: "col" }, "If a basket holds"), h("th", { scope: "col" }, "it also holds"),
      ORDERS.map(([order, , label]) => h("th", { scope: "col", class: "num", "aria-sort": state.order === order ? "descending" : null },
        h("button", { type: "button", class: ["sort", state.order === order && "sort-on"], dataset: { testid: `sort-${order.toLowerCase()}` }, title: `Sort by ${label.toLowerCase()} (descending)`,
          onclick: () => { state.order = order; reload(); } }, label, state.order === order ? " ▼" : ""))),
      h("th", { scope: "col", class: "num" }, "Leverage"), h("th", { scope: "col", class: "num" }, "Conviction"));
    const maxLift = Math.max(1, ...connection.edges.map(({ node }) => node.lift));
    const rows = connection.edges.map(({ node }) => h("tr", { dataset: { rule: node.id, lift: node.lift } },
      h("td", {}, side(node.antecedents)), h("td", {}, side(node.consequents)),
      h("td", { class: "num" }, fmt.num(node.support, 4)),
      h("td", { class: "num" }, fmt.num(node.confidence, 3)),
      h("td", { class: "num" }, h("span", { class: "lift", dataset: { testid: "lift" } }, fmt.num(node.lift, 2)), meter(node.lift, maxLift, "meter-lift")),
      h("td", { class: "num" }, fmt.int(node.count)),
      h("td", { class: "num" }, fmt.num(node.leverage, 4)),
      h("td", { class: "num" }, node.conviction === null ? "∞" : fmt.num(node.conviction, 2))));
    replace(tableBox,
      h("div", { class: "table-scroll" }, h("table", { class: "data" }, h("thead", {}, header), h("tbody", {}, rows))),
      h("div", { class: "pager" },
        h("button", { type: "button", disabled: state.page === 0, onclick: () => goTo(0) }, "« First"),
        h("button", { type: "button", disabled: state.page === 0, dataset: { testid: "prev" }, onclick: () => goTo(state.page - 1) }, "‹ Previous"),
        h("span", { dataset: { testid: "page" } }, `page ${state.page + 1} of ${pages}`),
        h("button", { type: "button", disabled: !connection.pageInfo.hasNextPage || (!cursors.length && state.page > 0), dataset: { testid: "next" },
          onclick: () => { cursors[first + connection.edges.length - 1] = connection.pageInfo.endCursor; goTo(state.page + 1); } }, "Next ›")));
  };

  const categorySelect = h("select", { dataset: { testid: "rules-category" }, onchange: (event) => { state.category = event.target.value || null; reload(); } },
    h("option", { value: "" }, "all categories"));
  categories().then((list) => {
    for (const c of list) categorySelect.append(h("option", { value: c.name, selected: state.category === c.name }, c.name));
  }).catch((error) => categorySelect.after(errorBox(error, "the categories")));

  const level = h("div", { class: "segmented", role: "group", "aria-label": "Rule level" },
    ["PRODUCT", "CATEGORY"].map((value) => h("button", {
      type: "button", class: state.level === value && "on", "aria-pressed": String(state.level === value), dataset: { testid: `level-${value.toLowerCase()}` },
      onclick: (event) => {
        state.level = value;
        for (const button of event.target.parentElement.children) {
          button.classList.toggle("on", button === event.target);
          button.setAttribute("aria-pressed", String(button === event.target));
        }
        reload();
      },
    }, value === "PRODUCT" ? "Products" : "Categories")));

  replace(root,
    h("div", { class: "intro" }, h("h1", {}, "Association rules"),
      h("p", {}, "Rules mined from completed orders: “customers whose basket holds A also hold B”. Support is the share of orders with both, confidence the share of A-baskets that hold B, lift how much more often than by chance.")),
    h("div", { class: "layout-rules" },
      h("section", { class: "panel filters" }, h("h2", {}, "Filters"),
        h("div", { class: "field" }, h("span", { class: "field-label" }, "Level"), level),
        numberInput("Min lift", state.minLift, { step: 0.5, testid: "min-lift", onChange: (v) => { state.minLift = v; reload(); } }),
        numberInput("Min confidence", state.minConfidence, { step: 0.05, max: 1, testid: "min-confidence", onChange: (v) => { state.minConfidence = v; reload(); } }),
        numberInput("Min support", state.minSupport, { step: 0.0005, max: 1, testid: "min-support", onChange: (v) => { state.minSupport = v; reload(); } }),
        h("label", { class: "field" }, h("span", { class: "field-label" }, "Category (either side)"), categorySelect)),
      h("section", { class: "panel" }, h("h2", {}, "Support against confidence"), chartBox)),
    h("section", { class: "panel" }, h("h2", {}, "Rules"), summary, tableBox));
  persist();
  loadPoints();
  loadPage();
}
