"""Views 2–6 in headless Chromium: rules explorer, product similarity, purchase timeline,
frequently bought together and the recommendation journey. Expected values come from the
snapshot the server serves (the engine's own functions), never from the page itself."""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from playwright.sync_api import Page, expect

from recograph import engine
from recograph.online.config import ServingConfig
from recograph.recommenders import content, intent
from recograph.resolvers.analytics import bought_together
from recograph.resolvers.recommendations import timeline_steps
from recograph.snapshot import ModelSnapshot
from tests.integration.browser.helpers import (
    LAPTOP_NAME,
    category_of,
    customer_position,
    newest_listing,
    product_id,
    product_position,
)

pytestmark = pytest.mark.browser

Screenshot = Callable[[Page, str], Path]
PAGE_SIZE = 20


def query_param(page: Page, name: str) -> str | None:
    value: str | None = page.evaluate(f"new URLSearchParams(location.search).get({name!r})")
    return value


def texts(page: Page, selector: str) -> list[str]:
    return page.locator(selector).all_inner_texts()


def test_rules_filtered_by_lift_sorted_and_paged(
    page: Page, screenshot: Screenshot, snapshot: ModelSnapshot
) -> None:
    rules = snapshot.product_rules
    summary = page.get_by_test_id("rules-summary")
    page.goto("/?view=rules")
    expect(summary).to_have_text(f"Rules 1–20 of {len(rules):,} product-level rules")

    page.get_by_test_id("min-lift").fill("20")
    strong = int((rules.lift >= 20).sum())
    assert strong > PAGE_SIZE
    expect(summary).to_have_text(f"Rules 1–20 of {strong:,} product-level rules")
    lifts = [float(x) for x in texts(page, "[data-testid=rules-table] [data-testid=lift]")]
    assert len(lifts) == PAGE_SIZE
    assert min(lifts) >= 20
    assert lifts == sorted(lifts, reverse=True)
    assert query_param(page, "minLift") == "20"
    scatter = page.get_by_test_id("rules-scatter")
    expect(scatter.locator("circle.dot")).to_have_count(strong)
    expect(scatter.locator("circle.ring")).to_have_count(PAGE_SIZE)

    page.get_by_test_id("sort-confidence").click()
    expect(page.get_by_test_id("sort-confidence")).to_have_class(re.compile("sort-on"))
    confidences = [float(x) for x in texts(page, "[data-testid=rules-table] tbody td:nth-child(4)")]
    top = np.sort(rules.confidence[rules.lift >= 20])[::-1][:PAGE_SIZE]
    assert confidences == [float(f"{c:.3f}") for c in top]

    page.get_by_test_id("next").click()
    expect(page.get_by_test_id("page")).to_have_text(f"page 2 of {math.ceil(strong / PAGE_SIZE)}")
    last = min(2 * PAGE_SIZE, strong)
    expect(summary).to_have_text(f"Rules 21–{last} of {strong:,} product-level rules")
    assert query_param(page, "p") == "2"
    screenshot(page, "2-association-rules")

    page.get_by_test_id("level-category").click()
    categories = int((snapshot.category_rules.lift >= 20).sum())
    if categories:
        expect(summary).to_contain_text(f"of {categories:,} category-level rules")
    else:
        expect(summary).to_have_text("No rule matches these filters.")


def test_similar_products_of_a_never_ordered_new_arrival(
    page: Page, screenshot: Screenshot, snapshot: ModelSnapshot
) -> None:
    catalogue = snapshot.catalogue
    newest = newest_listing(snapshot)
    assert not np.isin(newest, snapshot.histories.line_item), "a new arrival is never ordered"
    expected = content.neighbours(snapshot.content, newest, 12)
    page.goto("/?view=similarity")

    chip = page.get_by_test_id("newest").locator("button.chip").first
    expect(chip).to_have_text(str(catalogue.name[newest]))
    chip.click()
    expect(page.get_by_test_id("product-name")).to_have_text(str(catalogue.name[newest]))
    rows = page.get_by_test_id("neighbours").locator("tbody tr")
    expect(rows.locator(".product-name")).to_have_text(
        [str(catalogue.name[m.position]) for m in expected]
    )
    expect(rows.locator(".similarity")).to_have_text([f"{m.similarity:.3f}" for m in expected])
    expect(rows.first.locator(".feature")).to_have_text(list(expected[0].shared_features))
    assert query_param(page, "product") == str(product_id(snapshot, newest))

    members = int((catalogue.category == catalogue.category[newest]).sum())
    side = min(members, 16)
    heat = page.get_by_test_id("heat-map")
    expect(heat.locator("rect.cell")).to_have_count(side * side)
    expect(heat.locator(".heat-label-on").first).to_contain_text(str(catalogue.name[newest])[:20])
    expect(heat).to_contain_text(f"products of {category_of(snapshot, newest)}")
    screenshot(page, "3-product-similarity")


def test_similarity_view_lists_a_laptops_complements_and_substitutes(
    page: Page, screenshot: Screenshot, snapshot: ModelSnapshot
) -> None:
    laptop = product_position(snapshot, LAPTOP_NAME)
    catalogue = snapshot.catalogue

    def expected(kind: intent.Intent) -> list[intent.Related]:
        return intent.related(
            laptop,
            snapshot.complements,
            snapshot.content.similarity,
            snapshot.order_baskets,
            kind,
            8,
        )

    complements, substitutes = (
        expected(intent.Intent.COMPLEMENTARY),
        expected(intent.Intent.SUBSTITUTE),
    )
    assert complements
    assert substitutes
    page.goto(f"/?view=similarity&product={product_id(snapshot, laptop)}")
    rows = page.get_by_test_id("complements").locator("tbody tr")
    expect(rows.locator(".product-name")).to_have_text(
        [str(catalogue.name[r.position]) for r in complements]
    )
    expect(rows.locator("[data-testid=lift]")).to_have_text([f"{r.lift:.2f}" for r in complements])
    rows = page.get_by_test_id("substitutes").locator("tbody tr")
    expect(rows.locator(".product-name")).to_have_text(
        [str(catalogue.name[r.position]) for r in substitutes]
    )
    expect(rows.locator("[data-testid=similarity]")).to_have_text(
        [f"{r.similarity:.3f}" for r in substitutes]
    )
    screenshot(page, "3b-complements-and-substitutes")


def test_timeline_marks_what_was_recommended_before_each_order(
    page: Page, screenshot: Screenshot, snapshot: ModelSnapshot
) -> None:
    page.goto("/?view=timeline")
    chip = page.locator('[data-testid=example-customers] button[data-segment="REGULAR"]').first
    expect(chip).to_be_visible()
    customer = int(chip.get_attribute("data-customer") or "0")
    user = customer_position(snapshot, customer)
    steps = timeline_steps(snapshot, user, 10, ServingConfig().business_rules)
    chip.click()

    entries = page.get_by_test_id("timeline-entry")
    expect(entries).to_have_count(len(steps))
    hits = [len(step.hits) for step in steps]
    assert sum(hits) > 0
    expect(page.get_by_test_id("total-hits")).to_have_text(f"{sum(hits)} hits")
    assert [int(h) for h in entries.evaluate_all("els => els.map(e => e.dataset.hits)")] == hits
    expect(page.locator(".timeline-entry .bought li.hit")).to_have_count(sum(hits))
    expect(page.locator(".timeline-entry ol.compact li.hit")).to_have_count(sum(hits))
    histories = snapshot.histories
    expect(entries.locator(".entry-head strong")).to_have_text(
        [
            np.datetime_as_string(np.datetime64(int(histories.order_date[step.order]), "s"))[:10]
            for step in steps
        ]
    )
    assert query_param(page, "customer") == str(customer)
    screenshot(page, "4-purchase-timeline")


def test_frequently_bought_together_for_a_laptop(
    page: Page, screenshot: Screenshot, snapshot: ModelSnapshot
) -> None:
    laptop = product_position(snapshot, LAPTOP_NAME)
    expected = bought_together(snapshot, (laptop,), 12)
    ruleset = snapshot.product_rules
    page.goto("/?view=together")
    page.get_by_test_id("together-search").fill("ThinkPad X1")
    page.get_by_test_id("together-search-results").get_by_role(
        "button", name=re.compile(LAPTOP_NAME)
    ).click()

    expect(page.get_by_test_id("basket-item")).to_contain_text(LAPTOP_NAME)
    rows = page.get_by_test_id("together").locator("tbody tr")
    expect(rows.locator(".product-name")).to_have_text(
        [str(snapshot.catalogue.name[item]) for item, _ in expected]
    )
    expect(rows.locator("td:nth-child(3)")).to_have_text(
        [f"{ruleset.support[rule]:.4f}" for _, rule in expected]
    )
    expect(rows.locator("td:nth-child(5)")).to_have_text(
        [f"{ruleset.lift[rule]:.2f}" for _, rule in expected]
    )
    assert "Wireless Mice" in {category_of(snapshot, item) for item, _ in expected}
    expect(rows.filter(has_text="Wireless Mice").first).to_be_visible()
    assert query_param(page, "product") == str(product_id(snapshot, laptop))
    screenshot(page, "5-bought-together")


def test_journey_traces_one_request(
    page: Page, screenshot: Screenshot, snapshot: ModelSnapshot
) -> None:
    page.goto("/?view=journey")
    chip = page.locator('[data-testid=example-customers] button[data-segment="REGULAR"]').first
    expect(chip).to_be_visible()
    customer = int(chip.get_attribute("data-customer") or "0")
    request = engine.Request(user=customer_position(snapshot, customer), explain=True)
    result = engine.recommend(snapshot, request, ServingConfig().business_rules)
    assert result.trace is not None
    chip.click()

    for number in range(1, 8):
        expect(page.get_by_test_id(f"step-{number}")).to_be_visible()
    expect(page.get_by_test_id("step-1")).to_contain_text(f"Customer #{customer}")
    expect(page.get_by_test_id("similar-customers").locator("tbody tr")).to_have_count(
        len(result.trace.neighbours)
    )
    expect(page.get_by_test_id("candidates").locator(".signal-column")).to_have_count(
        len(result.trace.candidates)
    )
    ranking = page.get_by_test_id("ranking").locator(".product-name")
    expect(ranking).to_have_text([str(snapshot.catalogue.name[i.position]) for i in result.items])
    # the same rows as the engine's trace, none when it filtered nothing from the top
    expect(page.get_by_test_id("filtered").locator("tbody tr")).to_have_count(
        len(result.trace.filtered)
    )
    expect(page.get_by_test_id("business-rules").locator("li")).to_have_text(
        list(result.trace.business_rules)
    )
    assert query_param(page, "customer") == str(customer)
    screenshot(page, "6-recommendation-journey")
