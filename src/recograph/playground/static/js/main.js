// Entry point: the header, the tab bar and a router from ?view=… to one of the six views.

import { h, replace, errorBox } from "./dom.js";
import * as url from "./url.js";
import { renderHeader, renderStorePicker } from "./header.js";
import * as playground from "./views/playground.js";
import * as rules from "./views/rules.js";
import * as similarity from "./views/similarity.js";
import * as timeline from "./views/timeline.js";
import * as together from "./views/together.js";
import * as journey from "./views/journey.js";

// Each view: title, module, and the URL parameters carried over when switching to it.
export const VIEWS = {
  playground: { title: "Recommendations", module: playground, carry: ["customer"] },
  rules: { title: "Association rules", module: rules, carry: [] },
  similarity: { title: "Product similarity", module: similarity, carry: ["product"] },
  timeline: { title: "Purchase timeline", module: timeline, carry: ["customer"] },
  together: { title: "Bought together", module: together, carry: ["product"] },
  journey: { title: "Recommendation journey", module: journey, carry: ["customer"] },
};

function currentView() {
  const name = url.get("view", "playground");
  return name in VIEWS ? name : "playground";
}

function tabHref(name) {
  const carried = {};
  for (const key of VIEWS[name].carry) carried[key] = url.get(key);
  return url.href({ view: name, ...carried });
}

function renderTabs() {
  const active = currentView();
  replace(document.getElementById("tabs"), Object.entries(VIEWS).map(([name, view]) => h("a", {
    href: tabHref(name), class: ["tab", name === active && "tab-on"], dataset: { view: name },
    "aria-current": name === active ? "page" : null,
    onclick: (event) => {
      if (event.metaKey || event.ctrlKey || event.shiftKey || event.button !== 0) return;
      event.preventDefault();
      window.history.pushState(null, "", tabHref(name));
      route();
    },
  }, view.title)));
}

// Views call this to move to another view with new state (pushes a history entry).
export function navigate(changes) {
  window.history.pushState(null, "", url.href(changes));
  route();
}

// Views record their state here (replaces the history entry unless push is asked).
function setState(changes, options = {}) {
  url.update(changes, options);
  renderTabs();
}

function route() {
  const name = currentView();
  const view = VIEWS[name];
  renderTabs();
  document.title = `${view.title} · recograph playground`;
  const root = document.getElementById("view");
  root.dataset.view = name;
  replace(root);
  try {
    view.module.render(root, { navigate, setState });
  } catch (error) {
    replace(root, errorBox(error));
  }
}

window.addEventListener("popstate", route);
renderHeader();
renderStorePicker();
route();
