// View 3: product similarity. Any product (never-ordered new arrivals included, since content
// similarity needs no orders): nearest neighbours with scores and shared features, its
// complements and substitutes (relatedProducts) with their evidence, and a heat map of
// similarities across the product's category.

import { gql, latest, memo, walk, PRODUCT_FIELDS } from "../api.js";
import { h, replace, badge, errorBox, loading, fmt, meter } from "../dom.js";
import * as url from "../url.js";
import { heatMap } from "../charts.js";
import { productSearch, productLine } from "../pickers.js";

const NEIGHBOURS = 12;
const HEAT_MAX = 16; // products in the heat map (one aliased field each; the API allows 30)
const HEAT_K = 20; // neighbours asked per product: pairs further apart show as blank cells
const NEWEST = 8;
const RELATED = 8; // complements and substitutes shown, each

const PRODUCT_QUERY = `query($id: Int!, $limit: Int!) {
  product(id: $id) { ${PRODUCT_FIELDS} sku description stock specs { key value } }
  similarProducts(productId: $id, limit: $limit) { similarity sharedFeatures product { ${PRODUCT_FIELDS} } }
  complements: relatedProducts(productId: $id, intent: COMPLEMENTARY, limit: ${RELATED}) { lift confidence product { ${PRODUCT_FIELDS} } }
  substitutes: relatedProducts(productId: $id, intent: SUBSTITUTE, limit: ${RELATED}) { similarity coPurchaseRate product { ${PRODUCT_FIELDS} } } }`;

// One intent's list: the products and the evidence the API gives for each (two columns).
function relatedTable(items, columns, pick, empty, testid) {
  if (!items.length) return h("p", { class: "empty", dataset: { testid } }, empty);
  return h("div", { class: "table-scroll" }, h("table", { class: "data", dataset: { testid } },
    h("thead", {}, h("tr", {}, h("th", {}, "Product"), columns.map(([label]) => h("th", { class: "num" }, label)))),
    h("tbody", {}, items.map((item) => h("tr", { dataset: { product: item.product.id } },
      h("td", {}, h("button", { type: "button", class: "link", onclick: () => pick(item.product.id) }, productLine(item.product))),
      columns.map(([label, show]) => h("td", { class: "num", dataset: { testid: label.toLowerCase().replace(/ /g, "-") } }, show(item))))))));
}

// The newest listings: the API has no sort by listing date, so read the catalogue's dates once.
const newestProducts = memo(async () => {
  const all = await walk(`query($first: Int!, $after: String) { products(first: $first, after: $after) {
    totalCount pageInfo { hasNextPage endCursor } edges { node { id name category createdAt } } } }`, {}, (data) => data.products, { max: 3000 });
  return all.edges.map((edge) => edge.node).sort((a, b) => b.createdAt.localeCompare(a.createdAt) || b.id - a.id).slice(0, NEWEST);
});

function heatQuery(ids) {
  return `{ ${ids.map((id, i) => `p${i}: similarProducts(productId: ${Number(id)}, limit: ${HEAT_K}) { similarity product { id } }`).join(" ")} }`;
}

// Similarity matrix over `products` from each one's neighbour list (symmetric: either side's).
export function similarityMatrix(products, lists) {
  const index = new Map(products.map((p, i) => [p.id, i]));
  const values = products.map((_, i) => products.map((__, j) => (i === j ? 1 : null)));
  lists.forEach((list, i) => {
    for (const { similarity, product } of list) {
      const j = index.get(product.id);
      if (j === undefined || j === i) continue;
      values[i][j] = values[i][j] ?? similarity;
      values[j][i] = values[j][i] ?? similarity;
    }
  });
  return values;
}

export function render(root, { setState }) {
  let productId = url.getInt("product");
  const request = latest();
  const heatRequest = latest();
  const detailBox = h("div", { dataset: { testid: "product-detail" } });
  const neighboursBox = h("div", { dataset: { testid: "neighbours" } });
  const heatBox = h("div", { class: "chart-box", dataset: { testid: "heat-map" } });
  const relatedBox = h("div", { dataset: { testid: "related" } });
  const newest = h("div", { class: "examples", dataset: { testid: "newest" } }, h("span", { class: "muted" }, "Loading the newest listings…"));

  const pick = (id) => {
    productId = id;
    setState({ product: id }, { push: true });
    load();
  };

  newestProducts().then((list) => replace(newest, h("div", { class: "example-row" },
    h("span", { class: "example-label" }, "Newest listings"),
    h("span", { class: "example-chips" }, list.map((p) => h("button", { type: "button", class: "chip", dataset: { product: p.id }, title: `${p.category}, listed ${fmt.date(p.createdAt)}`, onclick: () => pick(p.id) }, p.name))))))
    .catch((error) => replace(newest, errorBox(error, "the newest listings")));

  const loadHeat = (product) => {
    replace(heatBox, loading("Comparing the category…"));
    heatRequest(async () => {
      const data = await gql(`query($filter: ProductFilter) { products(filter: $filter, first: ${HEAT_MAX}) { totalCount edges { node { id name } } } }`, { filter: { category: product.category } });
      const members = data.products.edges.map((edge) => edge.node);
      if (!members.some((p) => p.id === product.id)) members[members.length - 1] = { id: product.id, name: product.name };
      const lists = await gql(heatQuery(members.map((p) => p.id)));
      return { members, total: data.products.totalCount, lists: members.map((_, i) => lists[`p${i}`]) };
    }, ({ members, total, lists }) => {
      const values = similarityMatrix(members, lists);
      replace(heatBox,
        heatMap(members.map((p) => p.name), values, { highlight: members.findIndex((p) => p.id === product.id), onPick: (i) => pick(members[i].id) }),
        h("p", { class: "muted" }, `Content similarity between the ${members.length}${total > members.length ? ` (of ${total})` : ""} products of ${product.category}; blank cells are pairs outside each other's ${HEAT_K} nearest neighbours. Click a name to open it.`));
    }, (error) => replace(heatBox, errorBox(error, "the heat map")));
  };

  const load = () => {
    if (productId === null) {
      replace(detailBox, h("p", { class: "muted" }, "Search for a product, or pick one of the newest listings (never ordered yet: content similarity still finds their neighbours)."));
      replace(neighboursBox);
      replace(heatBox);
      replace(relatedBox);
      return;
    }
    replace(neighboursBox, loading());
    replace(relatedBox, loading());
    request(() => gql(PRODUCT_QUERY, { id: productId, limit: NEIGHBOURS }), ({ product, similarProducts, complements, substitutes }) => {
      replace(relatedBox, h("div", { class: "layout-2" },
        h("div", {}, h("h3", {}, "Complements"),
          h("p", { class: "muted" }, "Bought together (rule this product ⇒ it, lift above 1) but not alike."),
          relatedTable(complements, [["Lift", (c) => fmt.num(c.lift, 2)], ["Confidence", (c) => fmt.pct(c.confidence, 1)]], pick, "No product rule starts from this product alone.", "complements")),
        h("div", {}, h("h3", {}, "Substitutes"),
          h("p", { class: "muted" }, "Alike (content similarity ≥ 0.2) but rarely in the same order (co-purchase rate: orders with both ÷ orders with either)."),
          relatedTable(substitutes, [["Similarity", (s) => fmt.num(s.similarity, 3)], ["Co-purchase rate", (s) => fmt.pct(s.coPurchaseRate, 1)]], pick, "No look-alike that is rarely bought with it.", "substitutes"))));
      replace(detailBox,
        h("div", { class: "product-card" },
          h("h3", { dataset: { testid: "product-name" } }, product.name),
          h("p", { class: "muted" }, `${product.brand} · ${product.category} · ${fmt.money(product.price)} · SKU ${product.sku} · listed ${fmt.date(product.createdAt)} · stock ${product.stock}`,
            product.promoted ? badge("promoted", "promo") : null),
          h("p", {}, product.description),
          product.specs.length ? h("dl", { class: "specs" }, product.specs.map((spec) => h("div", {}, h("dt", {}, spec.key), h("dd", {}, spec.value)))) : null,
          h("p", {}, h("a", { href: url.href({ view: "together", product: product.id }) }, "bought together →"))));
      const top = Math.max(1e-9, ...similarProducts.map((n) => n.similarity));
      replace(neighboursBox, similarProducts.length
        ? h("div", { class: "table-scroll" }, h("table", { class: "data" },
          h("thead", {}, h("tr", {}, h("th", {}, "#"), h("th", {}, "Neighbour"), h("th", { class: "num" }, "Similarity"), h("th", {}, "Shared features"))),
          h("tbody", {}, similarProducts.map((n, i) => h("tr", { dataset: { product: n.product.id } },
            h("td", {}, i + 1),
            h("td", {}, h("button", { type: "button", class: "link", onclick: () => pick(n.product.id) }, productLine(n.product))),
            h("td", { class: "num" }, h("span", { class: "similarity" }, fmt.num(n.similarity, 3)), meter(n.similarity, top)),
            h("td", {}, h("span", { class: "features" }, n.sharedFeatures.map((f) => h("span", { class: "feature" }, f)))))))))
        : h("p", { class: "empty" }, "This product has no content neighbours."));
      loadHeat(product);
    }, (error) => {
      replace(detailBox, errorBox(error, "the product"));
      replace(neighboursBox);
      replace(heatBox);
      replace(relatedBox);
    });
  };

  replace(root,
    h("div", { class: "intro" }, h("h1", {}, "Product similarity"),
      h("p", {}, "Nearest products by content (category, brand, specs and description, TF-IDF weighted), with the features each pair shares.")),
    h("section", { class: "panel" }, productSearch({ onPick: (p) => pick(p.id), testid: "similar-search" }), newest),
    h("div", { class: "layout-2 layout-wide-right" },
      h("section", { class: "panel" }, h("h2", {}, "Product"), detailBox),
      h("div", {},
        h("section", { class: "panel" }, h("h2", {}, "Nearest neighbours"), neighboursBox),
        h("section", { class: "panel" }, h("h2", {}, "Complements and substitutes"), relatedBox),
        h("section", { class: "panel" }, h("h2", {}, "Similarity across the category"), heatBox))));
  load();
}
