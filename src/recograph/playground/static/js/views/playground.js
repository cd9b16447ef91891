// View 1: the recommendation playground. Pick a customer, edit the page context and the blend
// weights, and see the hybrid blend and the five strategies side by side, live.

import { gql, latest } from "../api.js";
import { h, replace, debounce, badge, errorBox, loading, fmt, meter } from "../dom.js";
import * as url from "../url.js";
import { contributionBar, SIGNAL_COLOURS } from "../charts.js";
import { customerPicker, contextEditor, contextInput, productLine, segmentBadge } from "../pickers.js";

const SIGNALS = [
  ["cf", "CF", "Collaborative filtering"],
  ["content", "CONTENT", "Content similarity"],
  ["rules", "RULES", "Bought-together rules"],
  ["popularity", "POPULARITY", "Popularity / trending"],
];

const STRATEGIES = [
  ["hybrid", "HYBRID", "Hybrid blend"],
  ["collaborative", "COLLABORATIVE", "Collaborative"],
  ["content", "CONTENT", "Content"],
  ["rules", "RULES", "Rules"],
  ["popular", "POPULAR", "Popular"],
];

const ITEM_FIELDS = `rank score outOfScoreOrder
  product { id name category price inStock promoted }
  reason { kind text metric value features evidence { id name } }
  contributions { signal score weight }`;

const QUERY = `query Playground($customer: Int, $context: ContextInput, $weights: WeightsInput) {
  ${STRATEGIES.map(([alias, strategy]) => `${alias}: recommendations(customerId: $customer, context: $context,
    strategy: ${strategy}, limit: 10, sessionId: "playground"${alias === "hybrid" ? ", weights: $weights" : ""}) { ...Ranked }`).join("\n  ")}
}
fragment Ranked on Recommendations { strategy explanation segment weights { signal weight } items { ${ITEM_FIELDS} } }`;

const CUSTOMER_QUERY = `query($id: Int!) { customer(id: $id) { id name createdAt segment orderCount
  dueSoon { product { id name category price } lastBought dueDate confidence }
  orders { id date status total lines { quantity product { id name category } } } } }`;

export function parseWeights(text) {
  if (!text) return null;
  const weights = { cf: 0, content: 0, rules: 0, popularity: 0 };
  for (const part of text.split(",")) {
    const [key, value] = part.split(":");
    if (key in weights && Number.isFinite(Number(value))) weights[key] = Math.max(0, Number(value));
  }
  return weights;
}

export function formatWeights(weights) {
  return weights ? SIGNALS.map(([key]) => `${key}:${Number(weights[key].toFixed(2))}`).join(",") : null;
}

function readState() {
  return {
    customer: url.getInt("customer"),
    context: { cart: url.getInts("cart"), current: url.getInt("current"), page: url.get("page"), category: url.get("cat") },
    weights: parseWeights(url.get("w")),
  };
}

function reasonLine(reason) {
  return h("span", { class: "reason" }, badge(reason.kind.replaceAll("_", " ").toLowerCase(), reason.kind), " ", reason.text);
}

function movement(item, previous) {
  if (!previous) return null;
  const before = previous.get(item.product.id);
  if (before === undefined) return h("span", { class: "move move-new", title: "new in the blend since the last change" }, "new");
  if (before > item.rank) return h("span", { class: "move move-up", title: `up from #${before}` }, `▲${before - item.rank}`);
  if (before < item.rank) return h("span", { class: "move move-down", title: `down from #${before}` }, `▼${item.rank - before}`);
  return null;
}

function blendList(result, previous, navigate) {
  const top = Math.max(1e-9, ...result.items.map((item) => item.score));
  return h("ol", { class: "ranked", dataset: { testid: "blend" } }, result.items.map((item) => h("li", {
    class: "ranked-item", dataset: { product: item.product.id, category: item.product.category },
  },
  h("span", { class: "rank" }, item.rank),
  h("div", { class: "ranked-body" },
    h("div", { class: "ranked-head" }, productLine(item.product), movement(item, previous)),
    reasonLine(item.reason),
    item.reason.features.length ? h("span", { class: "features" }, item.reason.features.map((f) => h("span", { class: "feature" }, f))) : null,
    h("div", { class: "score-row" },
      h("span", { class: "score", title: "blended score" }, fmt.num(item.score, 3)), meter(item.score, top),
      item.outOfScoreOrder ? h("span", { class: "muted", dataset: { testid: "out-of-order" }, title: "a promoted slot placed it above items with higher scores" }, "placed by a promoted slot") : null,
      contributionBar(item.contributions),
      h("button", { type: "button", class: "link", onclick: () => navigate({ view: "similarity", product: item.product.id }) }, "similar →"))),
  )));
}

function strategyColumn([alias, strategy, title], result) {
  // The API answers with the strategy it actually used (e.g. no history for collaborative).
  const fellBack = result.strategy !== strategy;
  return h("div", { class: "strategy", dataset: { testid: `strategy-${alias}` } },
    h("h3", {}, title, fellBack ? badge(`→ ${result.strategy.toLowerCase()}`, "warn") : null),
    h("p", { class: "explanation" }, result.explanation),
    result.items.length ? h("ol", { class: "compact" }, result.items.map((item) => h("li", { dataset: { product: item.product.id, category: item.product.category } },
      h("span", { class: "compact-name" }, item.product.name),
      h("span", { class: "compact-meta" }, `${fmt.num(item.score, 3)} · ${item.reason.text}`))))
      : h("p", { class: "empty" }, "No recommendations."));
}

function weightBar(weights) {
  return h("div", { class: "weight-bar", dataset: { testid: "weights" } }, weights.map((w) => h("span", {
    class: "weight-part", style: { flexGrow: String(w.weight), background: SIGNAL_COLOURS[w.signal] },
    title: `${w.signal}: ${fmt.pct(w.weight)}`,
  }, `${w.signal.toLowerCase()} ${fmt.pct(w.weight)}`)));
}

// Products the customer re-buys that are due within 60 days (overdue first): due date = last
// purchase + their interval (own gaps shrunk toward the category's); confidence = re-buy chance.
function dueList(customer) {
  if (!customer.dueSoon.length) return h("p", { class: "empty", dataset: { testid: "due-soon" } }, "Nothing due to buy again.");
  return h("ul", { class: "due-soon", dataset: { testid: "due-soon" } }, customer.dueSoon.map((d) =>
    h("li", {}, productLine(d.product), " ",
      h("span", { class: "muted" }, `bought ${fmt.date(d.lastBought)} · due ${fmt.date(d.dueDate)} · confidence ${fmt.pct(d.confidence)}`))));
}

function historyList(customer) {
  if (!customer.orders.length) return h("p", { class: "empty" }, "No orders yet: recommendations come from the page and what is popular.");
  const orders = [...customer.orders].reverse();
  return h("ol", { class: "history", dataset: { testid: "history" } }, orders.map((order) => h("li", { class: ["order", `order-${order.status}`] },
    h("div", { class: "order-head" }, h("span", {}, fmt.date(order.date)), badge(order.status, order.status === "completed" ? "" : "warn"), h("span", { class: "muted" }, fmt.money(order.total))),
    h("ul", {}, order.lines.map((line) => h("li", {}, `${line.product.name}`, line.quantity > 1 ? ` ×${line.quantity}` : "", h("span", { class: "muted" }, ` · ${line.product.category}`)))))));
}

export function render(root, { navigate, setState }) {
  const state = readState();
  const customerBox = h("div", { class: "customer-card", dataset: { testid: "customer" } });
  const weightsBox = h("div", { class: "weights" });
  const blendBox = h("div", { class: "blend-box", dataset: { testid: "blend-box" } }, loading());
  const columns = h("div", { class: "strategies", dataset: { testid: "strategies" } });
  const request = latest();
  let previousRanks = null;
  let segmentWeights = null;

  const persist = () => setState({
    customer: state.customer, cart: state.context.cart, current: state.context.current,
    page: state.context.page, cat: state.context.category, w: formatWeights(state.weights),
  });

  const refresh = () => {
    persist();
    blendBox.classList.add("stale");
    const variables = { customer: state.customer, context: contextInput(state.context), weights: state.weights };
    request(() => gql(QUERY, variables), (data) => {
      blendBox.classList.remove("stale");
      const hybrid = data.hybrid;
      segmentWeights = hybrid.weights;
      replace(blendBox,
        h("div", { class: "blend-head" },
          h("p", { class: "explanation", dataset: { testid: "explanation" } }, badge(hybrid.segment.toLowerCase(), hybrid.segment), " ", hybrid.explanation),
          h("button", { type: "button", class: "link", onclick: () => navigate({ view: "journey", customer: state.customer, cart: state.context.cart, current: state.context.current, page: state.context.page, cat: state.context.category, w: formatWeights(state.weights) }) }, "trace this request →")),
        weightBar(hybrid.weights),
        blendList(hybrid, previousRanks, navigate));
      previousRanks = new Map(hybrid.items.map((item) => [item.product.id, item.rank]));
      replace(columns, STRATEGIES.map((strategy) => strategyColumn(strategy, data[strategy[0]])));
      renderWeights();
    }, (error) => {
      blendBox.classList.remove("stale");
      replace(blendBox, errorBox(error, "recommendations"));
      replace(columns);
    });
  };
  const refreshSoon = debounce(refresh, 120);

  // The sliders are built once (re-building them would break a drag) and synced in place.
  const sliders = new Map();
  const weightsNote = h("p", { class: "muted" });
  const resetWeights = h("button", { type: "button", class: "secondary", dataset: { testid: "reset-weights" }, onclick: () => { state.weights = null; renderWeights(); refresh(); } }, "Use the segment's weights");
  const shownWeights = () => state.weights ?? Object.fromEntries(SIGNALS.map(([key, signal]) => [key, segmentWeights?.find((w) => w.signal === signal)?.weight ?? 0]));
  const renderWeights = () => {
    const shown = shownWeights();
    const total = SIGNALS.reduce((sum, [key]) => sum + shown[key], 0);
    for (const [key, { input, output }] of sliders) {
      if (document.activeElement !== input || !state.weights) input.value = String(shown[key]);
      output.textContent = total > 0 ? fmt.pct(shown[key] / total) : "–";
    }
    weightsNote.textContent = state.weights
      ? "Custom weights for the hybrid blend (shown as shares of their total)."
      : "The segment's weights. Drag a slider to override them.";
    resetWeights.disabled = !state.weights;
  };
  for (const [key, signal, label] of SIGNALS) {
    const input = h("input", {
      type: "range", min: 0, max: 1, step: 0.05, dataset: { testid: `weight-${key}` }, "aria-label": `${label} weight`,
      oninput: () => {
        state.weights = { ...shownWeights(), [key]: Number(input.value) };
        renderWeights();
        refreshSoon();
      },
    });
    const output = h("output", {});
    sliders.set(key, { input, output });
    weightsBox.append(h("label", { class: "slider" },
      h("span", { class: "slider-label" }, h("span", { class: "key", style: { background: SIGNAL_COLOURS[signal] } }), label),
      input, output));
  }
  weightsBox.prepend(weightsNote);
  weightsBox.append(resetWeights);

  const loadCustomer = async () => {
    if (state.customer === null) {
      replace(customerBox, h("p", { class: "muted", dataset: { testid: "anonymous" } }, "Anonymous visitor: no history, so the blend leans on the page context and popularity."));
      return;
    }
    replace(customerBox, loading("Loading the customer…"));
    try {
      const { customer } = await gql(CUSTOMER_QUERY, { id: state.customer });
      replace(customerBox,
        h("div", { class: "customer-head" },
          h("strong", { dataset: { testid: "customer-name" } }, customer.name), h("span", { class: "muted" }, ` #${customer.id}`), " ",
          segmentBadge(customer.segment)),
        h("p", { class: "muted" }, `${customer.orderCount} completed orders · customer since ${fmt.date(customer.createdAt)} · `,
          h("a", { href: url.href({ view: "timeline", customer: customer.id }) }, "timeline →")),
        h("h3", {}, "Due to buy again"), dueList(customer),
        h("h3", {}, "Purchase history"), historyList(customer));
    } catch (error) {
      replace(customerBox, errorBox(error, "the customer"));
    }
  };

  const pickCustomer = (id) => {
    state.customer = id;
    previousRanks = null; // movement markers compare edits for one customer, not customers
    renderControls();
    loadCustomer();
    refresh();
  };

  const controls = h("aside", { class: "controls" });
  const renderControls = () => replace(controls,
    h("section", { class: "panel" }, h("h2", {}, "Customer"), customerPicker({ selected: state.customer, onPick: pickCustomer, anonymous: true }), customerBox),
    h("section", { class: "panel" }, h("h2", {}, "Page context"), contextEditor(state.context, (next) => { state.context = next; refresh(); })),
    h("section", { class: "panel" }, h("h2", {}, "Blend weights"), weightsBox));

  replace(root,
    h("div", { class: "intro" }, h("h1", {}, "Recommendation playground"),
      h("p", {}, "Pick a customer, put products in the cart or open a product page, and watch the hybrid blend and each strategy respond.")),
    h("div", { class: "layout-2" }, controls, h("div", { class: "results" },
      h("section", { class: "panel" }, h("h2", {}, "The blend (hybrid)"), blendBox))),
    h("section", { class: "panel" }, h("h2", {}, "Five strategies side by side"), columns));
  renderControls();
  renderWeights();
  loadCustomer();
  refresh();
}
