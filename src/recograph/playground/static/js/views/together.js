// View 5: frequently bought together. For a product (or a small basket), the items the mined
// product rules add, with the rule's support, confidence and lift.

import { gql, latest, product as productById } from "../api.js";
import { h, replace, errorBox, loading, fmt, meter } from "../dom.js";
import * as url from "../url.js";
import { productSearch, productLine } from "../pickers.js";

const QUERY = `query Together($ids: [Int!]!) {
  frequentlyBoughtTogether(productIds: $ids, limit: 12) {
    support confidence lift
    product { id name brand category price inStock promoted }
    becauseOf { id name } } }`;

// Starting points: the antecedents of the strongest product rules.
const SUGGESTIONS = `{ associationRules(filter: {level: PRODUCT, minConfidence: 0.2}, orderBy: COUNT, first: 12) {
  edges { node { antecedentProducts { id name } } } } }`;

export function render(root, { setState }) {
  let basket = url.getInts("product");
  const request = latest();
  const basketBox = h("div", { class: "basket", dataset: { testid: "basket" } });
  const resultBox = h("div", { dataset: { testid: "together" } });
  const suggestions = h("div", { class: "examples" }, h("span", { class: "muted" }, "Loading suggestions…"));

  const setBasket = (ids) => {
    basket = ids;
    setState({ product: ids }, { push: true });
    load();
  };

  gql(SUGGESTIONS).then((data) => {
    const seen = new Map();
    for (const { node } of data.associationRules.edges) for (const p of node.antecedentProducts) seen.set(p.id, p);
    replace(suggestions, h("div", { class: "example-row" }, h("span", { class: "example-label" }, "Often in baskets"),
      h("span", { class: "example-chips" }, [...seen.values()].slice(0, 8).map((p) => h("button", { type: "button", class: "chip", dataset: { product: p.id }, onclick: () => setBasket([p.id]) }, p.name)))));
  }).catch((error) => replace(suggestions, errorBox(error, "suggestions")));

  const load = async () => {
    if (!basket.length) {
      replace(basketBox, h("p", { class: "muted" }, "Pick a product to see what goes with it."));
      replace(resultBox);
      return;
    }
    replace(resultBox, loading());
    request(async () => {
      const [products, data] = await Promise.all([Promise.all(basket.map((id) => productById(id))), gql(QUERY, { ids: basket })]);
      return { products, rows: data.frequentlyBoughtTogether };
    }, ({ products, rows }) => {
      replace(basketBox, h("ul", { class: "cart" }, products.map((p) => h("li", { class: "cart-item", dataset: { testid: "basket-item", product: p.id } },
        productLine(p),
        h("a", { href: url.href({ view: "similarity", product: p.id }), class: "muted" }, " similar →"),
        h("button", { type: "button", class: "remove", "aria-label": `Remove ${p.name}`, onclick: () => setBasket(basket.filter((id) => id !== p.id)) }, "×")))));
      const maxLift = Math.max(1, ...rows.map((r) => r.lift));
      replace(resultBox, rows.length
        ? h("div", { class: "table-scroll" }, h("table", { class: "data" },
          h("thead", {}, h("tr", {}, h("th", {}, "#"), h("th", {}, "Bought together"), h("th", { class: "num" }, "Support"), h("th", { class: "num" }, "Confidence"), h("th", { class: "num" }, "Lift"), h("th", {}, "Because the basket holds"))),
          h("tbody", {}, rows.map((row, i) => h("tr", { dataset: { product: row.product.id, category: row.product.category } },
            h("td", {}, i + 1),
            h("td", {}, productLine(row.product)),
            h("td", { class: "num" }, fmt.num(row.support, 4)),
            h("td", { class: "num" }, fmt.pct(row.confidence, 1), meter(row.confidence, 1)),
            h("td", { class: "num" }, fmt.num(row.lift, 2), meter(row.lift, maxLift, "meter-lift")),
            h("td", {}, row.becauseOf.map((p) => p.name).join(" + ")))))))
        : h("p", { class: "empty", dataset: { testid: "no-rules" } }, "No mined rule starts from this basket (too few orders hold it, or it is a new arrival)."));
    }, (error) => {
      replace(basketBox);
      replace(resultBox, errorBox(error, "the co-purchases"));
    });
  };

  replace(root,
    h("div", { class: "intro" }, h("h1", {}, "Frequently bought together"),
      h("p", {}, "What completes a basket, from the product-level association rules: support is the share of orders holding the pair, confidence the share of baskets with the product that also hold the item, lift how much more often than chance.")),
    h("section", { class: "panel" },
      productSearch({ onPick: (p) => setBasket(basket.includes(p.id) ? basket : [...basket, p.id]), testid: "together-search", placeholder: "Add a product to the basket…" }),
      suggestions, basketBox),
    h("section", { class: "panel" }, h("h2", {}, "Co-purchased items"), resultBox));
  load();
}
