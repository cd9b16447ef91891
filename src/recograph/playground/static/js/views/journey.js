// View 6: the recommendation journey. The whole trace of one request: the customer's profile,
// the similar customers found, candidates per signal, what the filters removed and why, the
// business rules applied and the final ranking.

import { gql, latest } from "../api.js";
import { h, replace, badge, errorBox, loading, fmt, meter } from "../dom.js";
import * as url from "../url.js";
import { contributionBar, SIGNAL_COLOURS } from "../charts.js";
import { customerPicker, contextEditor, contextInput, productLine, segmentBadge } from "../pickers.js";
import { parseWeights, formatWeights } from "./playground.js";

const STRATEGIES = ["HYBRID", "COLLABORATIVE", "CONTENT", "RULES", "POPULAR"];

const FILTER_TEXT = {
  OUT_OF_STOCK: "out of stock",
  PURCHASED: "already bought (and not a repeat purchase)",
  IN_CART: "already in the cart",
  CURRENT_PRODUCT: "the product on the page",
  CATEGORY_FILTER: "outside the requested categories",
  CATEGORY_CAP: "category cap: enough items from its category already",
  EXCLUDED: "excluded by the request",
  BELOW_CUTOFF: "scored below the last shown item",
};

const SIGNAL_TEXT = {
  CF: "Collaborative filtering",
  CONTENT: "Content similarity",
  RULES: "Bought-together rules",
  POPULARITY: "Popularity / trending",
};

const QUERY = `query Journey($customer: Int, $context: ContextInput, $strategy: Strategy!, $weights: WeightsInput) {
  recommendationJourney(customerId: $customer, context: $context, strategy: $strategy, weights: $weights, limit: 10) {
    requestId modelVersion strategy explanation businessRules
    profile { customerId segment orderCount purchasedProducts { id name category } recentProducts { id name category } livePurchases { id name } }
    similarCustomers { customerId name similarity }
    weights { signal weight }
    candidates { signal weight candidates { score product { id name category } } }
    filtered { rule detail product { id name category } }
    ranking { rank score product { id name category price inStock promoted } reason { kind text }
      contributions { signal score weight } } } }`;

function step(number, title, ...children) {
  return h("section", { class: "panel step", dataset: { testid: `step-${number}` } },
    h("h2", {}, h("span", { class: "step-number" }, number), title), ...children);
}

function productNames(list, empty) {
  return list.length
    ? h("ul", { class: "pills" }, list.map((p) => h("li", { class: "pill", title: p.category }, p.name)))
    : h("p", { class: "empty" }, empty);
}

export function render(root, { setState }) {
  const state = {
    customer: url.getInt("customer"),
    context: { cart: url.getInts("cart"), current: url.getInt("current"), page: url.get("page"), category: url.get("cat") },
    strategy: STRATEGIES.includes(url.get("strategy")) ? url.get("strategy") : "HYBRID",
    weights: parseWeights(url.get("w")),
  };
  const request = latest();
  const trace = h("div", { class: "journey", dataset: { testid: "journey" } });
  const controls = h("div", { class: "journey-controls" });

  const persist = () => setState({
    customer: state.customer, cart: state.context.cart, current: state.context.current, page: state.context.page,
    cat: state.context.category, strategy: state.strategy === "HYBRID" ? null : state.strategy, w: formatWeights(state.weights),
  });

  const load = () => {
    persist();
    trace.classList.add("stale");
    request(() => gql(QUERY, { customer: state.customer, context: contextInput(state.context), strategy: state.strategy, weights: state.weights }), ({ recommendationJourney: j }) => {
      trace.classList.remove("stale");
      const ranked = new Set(j.ranking.map((item) => item.product.id));
      const profile = j.profile;
      const top = Math.max(1e-9, ...j.ranking.map((item) => item.score));
      replace(trace,
        step(1, "Profile",
          h("p", {}, segmentBadge(profile.segment), ` ${profile.customerId === null ? "Anonymous visitor" : `Customer #${profile.customerId}`} · ${profile.orderCount} completed orders · model ${j.modelVersion}`),
          h("h3", {}, "Recent products"), productNames(profile.recentProducts, "None."),
          h("h3", {}, `Everything bought (${profile.purchasedProducts.length})`), productNames(profile.purchasedProducts, "Nothing yet."),
          profile.livePurchases.length ? [h("h3", {}, "Bought since the build"), productNames(profile.livePurchases, "")] : null),
        step(2, "Strategy and weights",
          h("p", { dataset: { testid: "journey-explanation" } }, h("strong", {}, j.strategy.toLowerCase()), `: ${j.explanation}`),
          h("div", { class: "weight-bar" }, j.weights.map((w) => h("span", { class: "weight-part", style: { flexGrow: String(w.weight), background: SIGNAL_COLOURS[w.signal] } }, `${w.signal.toLowerCase()} ${fmt.pct(w.weight)}`)))),
        step(3, "Similar customers",
          j.similarCustomers.length
            ? h("div", { class: "table-scroll" }, h("table", { class: "data", dataset: { testid: "similar-customers" } },
              h("thead", {}, h("tr", {}, h("th", {}, "Customer"), h("th", { class: "num" }, "Similarity"), h("th", {}, ""))),
              h("tbody", {}, j.similarCustomers.map((c) => h("tr", {},
                h("td", {}, `${c.name} `, h("span", { class: "muted" }, `#${c.customerId}`)),
                h("td", { class: "num" }, fmt.num(c.similarity, 3), meter(c.similarity, 1)),
                h("td", {}, h("a", { href: url.href({ view: "timeline", customer: c.customerId }) }, "timeline →")))))))
            : h("p", { class: "empty" }, "No neighbours used (collaborative filtering is off for this request or has no history to match).")),
        step(4, "Candidates per signal",
          h("div", { class: "signal-columns", dataset: { testid: "candidates" } }, j.candidates.map((group) => h("div", { class: "signal-column", dataset: { signal: group.signal } },
            h("h3", {}, h("span", { class: "key", style: { background: SIGNAL_COLOURS[group.signal] } }), `${SIGNAL_TEXT[group.signal] ?? group.signal} · weight ${fmt.pct(group.weight)}`),
            group.candidates.length
              ? h("ol", { class: "compact" }, group.candidates.map((c) => h("li", { class: ranked.has(c.product.id) ? "hit" : null, title: ranked.has(c.product.id) ? "in the final ranking" : null },
                h("span", { class: "compact-name" }, ranked.has(c.product.id) ? h("span", { class: "hit-mark" }, "✓ ") : null, c.product.name),
                h("span", { class: "compact-meta" }, `${fmt.num(c.score, 3)} · ${c.product.category}`))))
              : h("p", { class: "empty" }, "No candidates."))))),
        step(5, "Candidates that did not reach the ranking",
          j.filtered.length
            ? h("div", { class: "table-scroll" }, h("table", { class: "data", dataset: { testid: "filtered" } },
              h("thead", {}, h("tr", {}, h("th", {}, "Product"), h("th", {}, "Rule"), h("th", {}, "Why"))),
              h("tbody", {}, j.filtered.map((f) => h("tr", { dataset: { rule: f.rule } },
                h("td", {}, f.product.name, h("span", { class: "muted" }, ` · ${f.product.category}`)),
                h("td", {}, badge(f.rule.replaceAll("_", " ").toLowerCase(), "warn")),
                h("td", {}, f.detail || (FILTER_TEXT[f.rule] ?? f.rule)))))))
            : h("p", { class: "empty" }, "Every candidate reached the ranking.")),
        step(6, "Business rules",
          j.businessRules.length
            ? h("ul", { class: "rules-applied", dataset: { testid: "business-rules" } }, j.businessRules.map((rule) => h("li", {}, rule)))
            : h("p", { class: "empty" }, "No business rule changed the ranking.")),
        step(7, "Final ranking",
          h("ol", { class: "ranked", dataset: { testid: "ranking" } }, j.ranking.map((item) => h("li", { class: "ranked-item", dataset: { product: item.product.id } },
            h("span", { class: "rank" }, item.rank),
            h("div", { class: "ranked-body" },
              productLine(item.product),
              h("span", { class: "reason" }, badge(item.reason.kind.replaceAll("_", " ").toLowerCase(), item.reason.kind), " ", item.reason.text),
              h("div", { class: "score-row" }, h("span", { class: "score" }, fmt.num(item.score, 3)), meter(item.score, top), contributionBar(item.contributions))))))),
        h("p", { class: "muted request-id" }, `request ${j.requestId}`));
    }, (error) => {
      trace.classList.remove("stale");
      replace(trace, errorBox(error, "the journey"));
    });
  };

  const renderControls = () => replace(controls,
    h("section", { class: "panel" }, h("h2", {}, "Customer"), customerPicker({ selected: state.customer, anonymous: true, onPick: (id) => { state.customer = id; renderControls(); load(); } })),
    h("section", { class: "panel" }, h("h2", {}, "Request"),
      contextEditor(state.context, (next) => { state.context = next; load(); }),
      h("label", { class: "field" }, h("span", { class: "field-label" }, "Strategy"),
        h("select", { dataset: { testid: "strategy" }, onchange: (event) => { state.strategy = event.target.value; load(); } },
          STRATEGIES.map((s) => h("option", { value: s, selected: state.strategy === s }, s.toLowerCase())))),
      state.weights ? h("p", { class: "muted" }, `Custom weights from the playground: ${formatWeights(state.weights)}. `,
        h("button", { type: "button", class: "link", onclick: () => { state.weights = null; renderControls(); load(); } }, "use the segment's")) : null));

  replace(root,
    h("div", { class: "intro" }, h("h1", {}, "Recommendation journey"),
      h("p", {}, "One request traced end to end: who the customer is, which similar customers and signals proposed what, what the filters removed, which business rules applied, and the final ranking.")),
    h("div", { class: "layout-2" }, h("aside", { class: "controls" }, controls), trace));
  renderControls();
  load();
}
