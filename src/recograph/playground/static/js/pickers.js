// Shared controls: a customer picker, a product search box and the page-context editor.

import { gql, memo, categories, product as productById, PRODUCT_FIELDS } from "./api.js";
import { h, replace, debounce, badge, errorBox, fmt } from "./dom.js";

// Example rows by segment, labelled with the served build's own definitions
// (modelInfo.segments: the thresholds the explanations use too), never a copy here.
const SEGMENT_NAMES = { NEW: "New", LIGHT: "Light", REGULAR: "Regular" };

export const segmentLabels = memo(async () => {
  const data = await gql(`{ modelInfo { segments { segment definition } } }`);
  return Object.fromEntries(data.modelInfo.segments.map((s) =>
    [s.segment, `${SEGMENT_NAMES[s.segment] ?? s.segment} · ${s.definition}`]));
});

export function segmentBadge(segment) {
  return badge(segment.toLowerCase(), segment);
}

const EXAMPLES_PER_SEGMENT = 3;

// A few customers of each segment: the API lists customers in id order without a segment
// filter, so walk pages of 100 until every segment has its examples (or the list ends).
export const exampleCustomers = memo(async () => {
  const found = { NEW: [], LIGHT: [], REGULAR: [] };
  let after = null;
  for (let page = 0; page < 20; page++) {
    const data = await gql(
      `query($after: String) { customers(first: 100, after: $after) {
         pageInfo { hasNextPage endCursor } edges { node { id name segment orderCount } } } }`,
      { after },
    );
    for (const { node } of data.customers.edges) {
      const list = found[node.segment];
      if (list && list.length < EXAMPLES_PER_SEGMENT) list.push(node);
    }
    const done = Object.values(found).every((list) => list.length >= EXAMPLES_PER_SEGMENT);
    if (done || !data.customers.pageInfo.hasNextPage) break;
    after = data.customers.pageInfo.endCursor;
  }
  return found;
});

function searchBox({ placeholder, label, testid, search, renderItem, onPick }) {
  const input = h("input", { type: "search", placeholder, "aria-label": label, autocomplete: "off", dataset: { testid } });
  const results = h("ul", { class: "search-results", role: "listbox", dataset: { testid: `${testid}-results` }, hidden: true });
  let counter = 0;
  const close = () => { results.hidden = true; };
  const run = debounce(async () => {
    const text = input.value.trim();
    const mine = ++counter;
    if (!text) { close(); return; }
    try {
      const items = await search(text);
      if (mine !== counter) return;
      replace(results, items.length
        ? items.map((item) => h("li", { role: "option" },
          h("button", { type: "button", class: "result", onclick: () => { input.value = ""; close(); onPick(item); } }, renderItem(item))))
        : h("li", { class: "empty" }, `Nothing matches “${text}”.`));
      results.hidden = false;
    } catch (error) {
      if (mine !== counter) return;
      replace(results, h("li", {}, errorBox(error)));
      results.hidden = false;
    }
  }, 150);
  input.addEventListener("input", run);
  input.addEventListener("keydown", (event) => {
    if (event.key === "Escape") close();
    if (event.key === "Enter") {
      event.preventDefault();
      results.querySelector("button.result")?.click();
    }
  });
  return h("div", { class: "search" }, input, results);
}

export function productSearch({ placeholder = "Search products by name, brand or SKU", label = "Search products", testid = "product-search", onPick, category = null }) {
  return searchBox({
    placeholder, label, testid, onPick,
    search: async (text) => {
      const data = await gql(
        `query($filter: ProductFilter) { products(filter: $filter, first: 8) { edges { node { ${PRODUCT_FIELDS} } } } }`,
        { filter: { search: text, category } },
      );
      return data.products.edges.map((edge) => edge.node);
    },
    renderItem: (p) => [h("span", { class: "result-name" }, p.name), h("span", { class: "result-meta" }, `${p.category} · ${fmt.money(p.price)} · #${p.id}`)],
  });
}

export function customerSearch({ onPick, testid = "customer-search" }) {
  return searchBox({
    placeholder: "Search customers by name or id", label: "Search customers", testid, onPick,
    search: async (text) => {
      const data = await gql(
        `query($search: String) { customers(search: $search, first: 8) { edges { node { id name segment orderCount } } } }`,
        { search: text },
      );
      return data.customers.edges.map((edge) => edge.node);
    },
    renderItem: (c) => [h("span", { class: "result-name" }, c.name), h("span", { class: "result-meta" }, `#${c.id} · ${c.segment.toLowerCase()} · ${c.orderCount} orders`)],
  });
}

// Search plus example customers per segment; `anonymous` adds an "anonymous visitor" choice.
export function customerPicker({ selected, onPick, anonymous = false }) {
  const examples = h("div", { class: "examples", dataset: { testid: "example-customers" } }, h("span", { class: "muted" }, "Loading example customers…"));
  Promise.all([exampleCustomers(), segmentLabels()]).then(([found, labels]) => {
    replace(examples, Object.entries(found).map(([segment, list]) => h("div", { class: "example-row" },
      h("span", { class: "example-label" }, labels[segment] ?? segment),
      h("span", { class: "example-chips" }, list.map((c) => h("button", {
        type: "button", class: ["chip", c.id === selected && "chip-on"], dataset: { customer: c.id, segment },
        title: `${c.name}, ${c.orderCount} completed orders`, onclick: () => onPick(c.id),
      }, `${c.name} #${c.id}`))))),
    anonymous ? h("div", { class: "example-row" },
      h("span", { class: "example-label" }, "No customer"),
      h("span", { class: "example-chips" }, h("button", { type: "button", class: ["chip", selected === null && "chip-on"], dataset: { customer: "anonymous" }, onclick: () => onPick(null) }, "Anonymous visitor"))) : null);
  }).catch((error) => replace(examples, errorBox(error, "example customers")));
  return h("div", { class: "picker" }, customerSearch({ onPick: (c) => onPick(c.id) }), examples);
}

export const PAGE_TYPES = ["HOME", "PRODUCT", "CATEGORY", "CART", "CHECKOUT", "ACCOUNT"];

function productChip(p, onRemove, testid) {
  return h("li", { class: "cart-item", dataset: { testid, product: p.id } },
    h("span", { class: "cart-name" }, p.name),
    h("span", { class: "muted" }, ` ${p.category}`),
    h("button", { type: "button", class: "remove", title: `Remove ${p.name}`, "aria-label": `Remove ${p.name}`, onclick: onRemove }, "×"));
}

// Cart, current product, page type and category. `state` = {cart: [ids], current, page, category};
// `onChange(nextState)` fires on every edit.
export function contextEditor(state, onChange) {
  const root = h("div", { class: "context-editor" });
  const render = async () => {
    let products = [];
    try {
      products = await Promise.all([...state.cart, ...(state.current === null ? [] : [state.current])].map((id) => productById(id)));
    } catch (error) {
      replace(root, errorBox(error, "the context products"));
      return;
    }
    const byId = new Map(products.map((p) => [p.id, p]));
    const cats = await categories().catch(() => []);
    const set = (changes) => { Object.assign(state, changes); onChange({ ...state }); render(); };
    const cartList = h("ul", { class: "cart", dataset: { testid: "cart" } },
      state.cart.length
        ? state.cart.map((id) => productChip(byId.get(id), () => set({ cart: state.cart.filter((x) => x !== id) }), "cart-item"))
        : h("li", { class: "muted" }, "The cart is empty."));
    const current = state.current === null ? null : byId.get(state.current);
    replace(root,
      h("div", { class: "field" }, h("span", { class: "field-label" }, "Cart"), cartList,
        productSearch({ placeholder: "Add a product to the cart…", label: "Add to cart", testid: "cart-add", onPick: (p) => { if (!state.cart.includes(p.id)) set({ cart: [...state.cart, p.id] }); } })),
      h("div", { class: "field" }, h("span", { class: "field-label" }, "Product being viewed"),
        current
          ? h("ul", { class: "cart" }, productChip(current, () => set({ current: null }), "current-product"))
          : productSearch({ placeholder: "Pick the current product…", label: "Current product", testid: "current-pick", onPick: (p) => set({ current: p.id, page: state.page ?? "PRODUCT" }) })),
      h("div", { class: "field-row" },
        h("label", { class: "field" }, h("span", { class: "field-label" }, "Page"),
          h("select", { dataset: { testid: "page-type" }, onchange: (e) => set({ page: e.target.value || null }) },
            h("option", { value: "" }, "—"),
            PAGE_TYPES.map((t) => h("option", { value: t, selected: state.page === t }, t.toLowerCase())))),
        h("label", { class: "field" }, h("span", { class: "field-label" }, "Category browsed"),
          h("select", { dataset: { testid: "category" }, onchange: (e) => set({ category: e.target.value || null }) },
            h("option", { value: "" }, "—"),
            cats.map((c) => h("option", { value: c.name, selected: state.category === c.name }, c.name))))));
  };
  render();
  return root;
}

export function contextInput(state) {
  const context = { cartProductIds: state.cart };
  if (state.current !== null) context.currentProductId = state.current;
  if (state.page) context.pageType = state.page;
  if (state.category) context.currentCategory = state.category;
  return context;
}

export function productLine(p, extra = null) {
  return h("span", { class: "product" },
    h("span", { class: "product-name" }, p.name),
    h("span", { class: "product-meta" }, `${p.category} · ${fmt.money(p.price)}`,
      p.inStock === false ? badge("out of stock", "warn") : null,
      p.promoted ? badge("promoted", "promo") : null),
    extra);
}
