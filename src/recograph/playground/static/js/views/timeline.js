// View 4: a customer's purchase timeline. At each completed order, what recograph would have
// recommended from the history before it, with the products then bought marked as hits.

import { gql, latest } from "../api.js";
import { h, replace, badge, errorBox, loading, fmt } from "../dom.js";
import * as url from "../url.js";
import { dateStrip } from "../charts.js";
import { customerPicker, segmentBadge } from "../pickers.js";

const QUERY = `query Timeline($customer: Int!, $limit: Int!) {
  customerTimeline(customerId: $customer, limit: $limit) {
    totalHits
    customer { id name segment orderCount createdAt }
    entries { segment strategy explanation hitRate
      order { id date status total lines { quantity product { id name category } } }
      hits { id }
      recommendations { rank score product { id name category } reason { kind text } } } } }`;

function entryCard(entry, index) {
  const hits = new Set(entry.hits.map((p) => p.id));
  const order = entry.order;
  return h("li", { class: ["timeline-entry", hits.size && "has-hits"], dataset: { testid: "timeline-entry", order: order.id, hits: hits.size } },
    h("div", { class: "entry-head" },
      h("span", { class: "entry-index" }, `#${index + 1}`),
      h("strong", {}, fmt.date(order.date)),
      h("span", { class: "muted" }, `order ${order.id} · ${fmt.money(order.total)}`),
      badge(`${entry.segment.toLowerCase()} before`, entry.segment),
      h("span", { class: ["hit-rate", hits.size ? "hit-rate-on" : ""] }, `${hits.size} hit${hits.size === 1 ? "" : "s"} · ${fmt.pct(entry.hitRate)}`)),
    h("p", { class: "explanation" }, `${entry.strategy.toLowerCase()}: ${entry.explanation}`),
    h("div", { class: "entry-cols" },
      h("div", {}, h("h4", {}, "Bought"),
        h("ul", { class: "bought" }, order.lines.map((line) => h("li", { class: hits.has(line.product.id) ? "hit" : null },
          hits.has(line.product.id) ? h("span", { class: "hit-mark", title: "recommended before this order" }, "✓ ") : null,
          line.product.name, line.quantity > 1 ? ` ×${line.quantity}` : "", h("span", { class: "muted" }, ` · ${line.product.category}`))))),
      h("div", {}, h("h4", {}, "Recommended just before"),
        h("ol", { class: "compact" }, entry.recommendations.map((item) => h("li", { class: hits.has(item.product.id) ? "hit" : null, dataset: { product: item.product.id } },
          h("span", { class: "compact-name" }, hits.has(item.product.id) ? h("span", { class: "hit-mark" }, "✓ ") : null, item.product.name),
          h("span", { class: "compact-meta" }, `${fmt.num(item.score, 3)} · ${item.reason.text}`)))))));
}

export function render(root, { setState }) {
  let customerId = url.getInt("customer");
  const request = latest();
  const body = h("div", { dataset: { testid: "timeline" } });
  const pickerBox = h("div");

  const pick = (id) => {
    customerId = id;
    setState({ customer: id }, { push: true });
    renderPicker();
    load();
  };
  const renderPicker = () => replace(pickerBox, customerPicker({ selected: customerId, onPick: pick }));

  const load = () => {
    if (customerId === null) {
      replace(body, h("p", { class: "muted" }, "Pick a customer to replay their orders."));
      return;
    }
    replace(body, loading("Replaying the customer's orders…"));
    request(() => gql(QUERY, { customer: customerId, limit: 10 }), ({ customerTimeline: timeline }) => {
      const customer = timeline.customer;
      const entries = timeline.entries;
      const head = h("div", { class: "customer-head" },
        h("strong", { dataset: { testid: "customer-name" } }, customer.name), h("span", { class: "muted" }, ` #${customer.id} `),
        segmentBadge(customer.segment),
        h("span", { class: "muted" }, ` · ${entries.length} completed orders replayed · `),
        h("strong", { dataset: { testid: "total-hits" } }, `${timeline.totalHits} hits`),
        h("span", { class: "muted" }, " · "),
        h("a", { href: url.href({ view: "playground", customer: customer.id }) }, "recommend now →"), " ",
        h("a", { href: url.href({ view: "journey", customer: customer.id }) }, "journey →"));
      if (!entries.length) {
        replace(body, head, h("p", { class: "empty" }, "No completed orders: nothing to replay."));
        return;
      }
      const strip = dateStrip(entries.map((entry, i) => ({
        date: entry.order.date, value: entry.hitRate, hit: entry.hits.length > 0,
        size: 4 + Math.min(6, entry.order.lines.length),
        title: `#${i + 1} ${fmt.date(entry.order.date)}: ${entry.hits.length} of ${entry.order.lines.length} products recommended beforehand (${entry.strategy.toLowerCase()})`,
      })));
      replace(body, head,
        h("div", { class: "chart-box" }, strip, h("p", { class: "muted" }, "Share of each order's products that were in the top 10 just before it (dot size: products in the order; filled: at least one hit).")),
        h("ol", { class: "timeline" }, entries.map(entryCard)));
    }, (error) => replace(body, errorBox(error, "the timeline")));
  };

  replace(root,
    h("div", { class: "intro" }, h("h1", {}, "Purchase timeline"),
      h("p", {}, "Each completed order, and the top 10 recograph would have shown from the history before it (today's stock ignored). Products then bought are hits: watch the recommendations sharpen as the history grows.")),
    h("section", { class: "panel" }, h("h2", {}, "Customer"), pickerBox),
    h("section", { class: "panel" }, h("h2", {}, "Orders over time"), body));
  renderPicker();
  load();
}
