# %% [markdown]
# # TechHeaven playbook: association rules, collaborative filtering, content, hybrid
#
# The whole recograph pipeline on the TechHeaven demo store, written against recograph's
# public Python API:
#
# 1. the data: counts, the customer × product matrix, the long tail;
# 2. association rules at product and category level;
# 3. collaborative filtering (item-kNN, user-kNN, SVD, ALS, EASE) and what its latent
#    factors capture;
# 4. content-based neighbours, including a product nobody has ordered yet;
# 5. cold start and the switching hybrid;
# 6. evaluation on a temporal holdout: every model against random and popularity;
# 7. the same recommendation fetched through the GraphQL API.
#
# The notebook generates the store in a temporary directory and builds it once, so it runs
# top to bottom in a fresh kernel (`make notebook` opens it with the project's virtual
# environment; the test suite executes it). Every number shown is computed by the run.

# %%
import warnings

# tqdm (imported by implicit) warns that ipywidgets is missing; no progress bars are shown here.
warnings.filterwarnings("ignore", message="IProgress not found")

# %%
import json
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from IPython.display import display
from matplotlib.ticker import NullFormatter

from recograph.build import BuildParams, build_artifacts
from recograph.engine import Context, Request, Strategy, recommend
from recograph.evaluation.evaluate import NO_POLICY
from recograph.io.reader import read_store
from recograph.recommenders.blend import SEED_WEIGHTS, PageType
from recograph.recommenders.rules import rules_table
from recograph.snapshot import CF_MODELS, load_snapshot
from recograph_lab import analysis
from recograph_lab.demo.generator import generate_store
from recograph_lab.demo.summary import measure_follow_up, measure_patterns, summarize_store

SEED = 42
pd.set_option("display.width", 160)
pd.set_option("display.max_colwidth", 70)
pd.set_option("display.precision", 4)
plt.rcParams["figure.dpi"] = 80

# %% [markdown]
# ## Generate the store and build it once
#
# `generate_store` writes a Bagisto-style export with planted patterns (personas, bundles,
# a follow-up purchase). `build_artifacts` is what `recograph build --tune` runs: it picks
# the collaborative-filtering model and tunes the blend on a validation split, scores every
# model on the most recent orders (fitted only on the orders before them), then refits on
# everything and publishes the snapshot the server loads.

# %%
workdir = Path(tempfile.mkdtemp(prefix="techheaven-"))
store_dir = workdir / "store"
artifacts_root = workdir / "artifacts"

started = time.perf_counter()
generated = generate_store(store_dir, seed=SEED, scale=1.0)
loaded = read_store(store_dir)
data = loaded.data
print(f"store written to {store_dir} in {generated.seconds:.1f} s")
print(f"rows rejected on reading: {len(loaded.rejects)}")

params = BuildParams(seed=SEED)
result = build_artifacts(data, artifacts_root, params, evaluate=True, tune=True)
report = result.report
assert report is not None
snapshot = load_snapshot(artifacts_root)
catalogue, histories = snapshot.catalogue, snapshot.histories
category_names = [str(name) for name in catalogue.category_names]
print(f"build {result.version} published in {time.perf_counter() - started:.1f} s")

# %% [markdown]
# ## 1. The data
#
# Counts as measured from the export files (`summarize_store`), then the customers ×
# products matrix the collaborative-filtering models train on (completed orders only).

# %%
summary = summarize_store(store_dir)
counts = {**summary.counts, "categories": summary.categories}
counts["completed orders"] = summary.completed_orders
display(pd.Series(counts, name="rows").to_frame())
print("order statuses:", dict(summary.status_counts))
print(f"orders from {summary.first_order} to {summary.last_order}")
print(f"products never ordered: {summary.never_ordered_products}")

matrix = analysis.matrix_summary(snapshot.interactions)
display(pd.Series(asdict(matrix), name="customers × products", dtype=object).to_frame())
# The fitted matrix and the files agree on how empty the matrix is.
assert abs(matrix.sparsity - summary.sparsity) < 1e-12
print(f"sparsity: {matrix.sparsity:.2%} of the cells are empty")

# %%
# Rows: customers by number of products bought; columns: products by number of buyers.
per_user = np.diff(snapshot.interactions.indptr)
per_item = np.bincount(snapshot.interactions.indices, minlength=snapshot.n_items)
rows = np.argsort(-per_user, kind="stable")
cols = np.argsort(-per_item, kind="stable")
fig, (left, right) = plt.subplots(1, 2, figsize=(13, 4.5))
left.spy(snapshot.interactions[rows][:, cols], markersize=0.4, aspect="auto")
left.set(
    title=f"customers × products ({matrix.sparsity:.1%} empty)",
    xlabel="products, most bought first",
    ylabel="customers, most active first",
)
right.hist(per_user[per_user > 0], bins=40)
right.set(title="distinct products per customer", xlabel="products", ylabel="customers")
plt.show()

# %% [markdown]
# ### The long tail
#
# Revenue per product over completed orders, best sellers first; the top 20 are marked.

# %%
revenue = analysis.product_revenue(data)
top20 = analysis.top_share(revenue, 20)
print(
    f"the top 20 of {len(revenue)} products earn {top20:.1%} of the revenue "
    f"(measured from the files: {summary.top20_revenue_share:.1%})"
)
assert abs(top20 - summary.top20_revenue_share) < 1e-9

fig, (left, right) = plt.subplots(1, 2, figsize=(13, 4))
colours = np.where(revenue["rank"] <= 20, "tab:red", "tab:blue")
left.bar(revenue["rank"], revenue["revenue"], width=1.0, color=colours)
left.set(title="revenue per product", xlabel="product rank", ylabel="revenue")
right.plot(revenue["rank"], revenue["cumulative_share"])
right.axvline(20, color="tab:red", linestyle="--")
right.axhline(top20, color="tab:red", linestyle=":")
right.annotate(f"top 20: {top20:.0%}", (20, top20), xytext=(40, top20 - 0.15))
right.set(title="cumulative share of revenue", xlabel="product rank", ylim=(0, 1.02))
plt.show()
display(revenue.head(10)[["rank", "name", "category", "revenue", "share"]])

# %% [markdown]
# ## 2. Association rules
#
# Rules are mined with FP-growth over completed-order baskets, once over products and once
# over categories (a basket of categories). For a rule A → B over n baskets:
# support = n(A ∧ B) / n, confidence = n(A ∧ B) / n(A), lift = confidence / (n(B) / n).
# The tables below list the exact counts each ratio comes from.

# %%
product_rules, category_rules = snapshot.product_rules, snapshot.category_rules
print(
    f"{len(product_rules)} product rules and {len(category_rules)} category rules "
    f"over {category_rules.n_baskets} baskets"
)
anchors = {
    "Laptop": "Laptops",
    "Headphone": "Over-Ear Headphones",
    "Gaming": "Gaming Mice",
}
also = {}
for label, category in anchors.items():
    also[label] = analysis.also_bought(category_rules, category_names, category)
    print(f"\n{label} buyers also buy ({category} → category)")
    display(also[label].head(6))

# %% [markdown]
# The same category pairs measured straight from the export files by
# `recograph_lab.demo.summary` (an independent computation) agree with the mined rules:

# %%
measured = pd.DataFrame([asdict(m) for m in measure_patterns(store_dir)])
mined = pd.concat([table.assign(antecedent=anchors[label]) for label, table in also.items()])
check = measured.merge(
    mined, on=["antecedent", "consequent"], suffixes=("_files", "_rules"), how="left"
)
for metric in ("support", "confidence", "lift"):
    assert np.allclose(check[f"{metric}_files"], check[f"{metric}_rules"])
display(
    check[
        [
            "antecedent",
            "consequent",
            "both_orders",
            "antecedent_orders",
            "support_rules",
            "confidence_rules",
            "lift_rules",
        ]
    ]
)
follow_up = measure_follow_up(store_dir)
print(
    f"{follow_up.customers} customers bought {follow_up.item} after {follow_up.anchor}; "
    f"{follow_up.share_within_window:.0%} of them 3–6 months later "
    f"(median {follow_up.median_days:.0f} days)"
)

# %% [markdown]
# Product-level rules: the strongest by lift among those seen in at least 10 baskets
# (rules from a handful of baskets have huge, unreliable lifts).

# %%
products = rules_table(product_rules, [str(name) for name in catalogue.name])
strong = products[products["count"] >= 10]
print(f"{len(strong)} of {len(products)} product rules rest on at least 10 baskets")
display(strong.head(10)[["antecedents", "consequents", "count", "support", "confidence", "lift"]])

categories = rules_table(category_rules, category_names)
fig, axes = plt.subplots(1, 2, figsize=(13, 4.5))
for ax, (title, table) in zip(
    axes, [("category rules", categories), ("product rules", products)], strict=True
):
    points = ax.scatter(table["support"], table["confidence"], c=table["lift"], s=8, cmap="viridis")
    ax.set(title=title, xlabel="support", ylabel="confidence", xscale="log")
    ax.xaxis.set_minor_formatter(NullFormatter())
    fig.colorbar(points, ax=ax, label="lift")
plt.show()

# %% [markdown]
# ## 3. Collaborative filtering
#
# Five models learn from the customers × products matrix alone. The build chose the served
# model on a validation split before the test period; the table gives each one's NDCG@10
# on the test period (new = no orders before the cutoff, light = a few, regular = many;
# new customers have no history, so every CF row falls back to popularity for them).

# %%
cf_rows = [name for name in CF_MODELS if name in report.results]
print("served collaborative filtering:", snapshot.blend.cf_models)
display(analysis.segment_table(report).loc[["popularity", *cf_rows, "users"]])
print(
    f"latent factors: SVD {snapshot.svd.item_factors.shape[1]}, "
    f"ALS {snapshot.als.item_factors.shape[1]}"
)

# %% [markdown]
# One customer seen by each model: the first customer (by id) whose first order held a
# laptop and who ordered at least four times on different dates. This customer comes back
# in sections 5 and 7.

# %%
laptops = catalogue.category_position("Laptops")


def fits(user: int) -> bool:
    orders = histories.completed_orders(user)
    if len(orders) < 4:
        return False
    dates = [int(histories.order_date[o]) for o in orders]
    first = histories.order_items(orders[0])
    has_laptop = bool(np.any(catalogue.category[first] == laptops))
    return len(set(dates)) == len(dates) and has_laptop


user = next(u for u in range(len(histories)) if fits(u))
customer_id = int(histories.user_ids[user])
orders = histories.completed_orders(user)
print(f"customer {customer_id}: {len(orders)} completed orders; the first three:")
for order in orders[:3]:
    print("  -", ", ".join(str(catalogue.name[i]) for i in histories.order_items(order)))

top5 = {}
for name in cf_rows:
    request = Request(user=user, limit=5, strategy=Strategy.COLLABORATIVE, cf_models=((name, 1.0),))
    recommended = recommend(snapshot, request, NO_POLICY)
    top5[name] = [str(catalogue.name[item.position]) for item in recommended.items]
display(pd.DataFrame(top5, index=pd.RangeIndex(1, 6, name="rank")))

# %% [markdown]
# ### What the latent factors capture
#
# Each product has a vector of latent factors; averaging them over a category's products
# shows which categories load on each factor. A factor's sign is arbitrary, so both ends
# are listed. The models never see the generator's personas, only who bought what; look at
# whether a factor's poles group one kind of shopper (audio, gaming, mobile work,
# photography, smart home) against another.

# %%
bought = snapshot.popularity.overall > 0
loadings = {
    name: analysis.category_loadings(
        model.item_factors, catalogue.category, category_names, items=bought
    )
    for name, model in (("SVD", snapshot.svd), ("ALS", snapshot.als))
}
for name, frame in loadings.items():
    print(f"{name}: categories at both ends of each factor")
    display(analysis.factor_poles(frame, n=3))

als = loadings["ALS"]
shown = als.loc[als.abs().max(axis=1).sort_values(ascending=False).index[:20]]
fig, ax = plt.subplots(figsize=(7, 7))
limit = float(np.abs(shown.to_numpy()).max())
image = ax.imshow(shown.to_numpy(), cmap="RdBu_r", vmin=-limit, vmax=limit, aspect="auto")
ax.set_xticks(range(shown.shape[1]), shown.columns)
ax.set_yticks(range(shown.shape[0]), shown.index)
ax.set_title("ALS: mean factor per category (20 most loaded categories)")
fig.colorbar(image, ax=ax)
plt.show()


# %% [markdown]
# ## 4. Content-based filtering
#
# TF-IDF over category, brand, price band, specs and text: neighbours come with the
# features they share, and need no purchases, so a product nobody has ordered gets
# neighbours too.


# %%
def best_seller(category: str) -> int:
    position = catalogue.category_position(category)
    members = np.flatnonzero(catalogue.category == position)
    return int(members[np.argmax(snapshot.popularity.overall[members])])


for category in anchors.values():
    item = best_seller(category)
    print(f"\nnearest to {catalogue.name[item]} ({category})")
    display(analysis.content_table(snapshot, item, limit=5))

# %%
never = np.flatnonzero(snapshot.popularity.overall == 0)
newest = int(never[np.argmax(catalogue.created_at[never])])
listed = pd.Timestamp(int(catalogue.created_at[newest]), unit="s").date()
print(f"{len(never)} products were never ordered; the newest is {catalogue.name[newest]}")
print(f"  listed {listed}, buyers: {int(per_item[newest])}, ", end="")
print(f"item-kNN neighbours: {snapshot.item_knn.similarity[newest].nnz}")
display(analysis.content_table(snapshot, newest, limit=5))

page = Context(current=newest, page_type=PageType.PRODUCT)
visitor = recommend(snapshot, Request(context=page, limit=5))
print(f"an anonymous visitor on its page: {visitor.strategy.value}, {visitor.explanation}")
display(analysis.recommendation_table(snapshot, visitor))

# %% [markdown]
# ## 5. Cold start and the switching hybrid
#
# The same customer replayed with no history, after one order and after three
# (`Request.before` hides later orders). The segment decides the blend: popularity for a
# visitor with nothing to go on, then content, rules and collaborative filtering as the
# history grows. Store policy applies as served: a promoted slot and at most three
# products per category.

# %%
journey = []
for n_orders in (0, 1, 3):
    before = analysis.history_cutoff(snapshot, user, n_orders)
    served = recommend(snapshot, Request(user=user, before=before, limit=5))
    weights = {k: round(v, 2) for k, v in served.weights.as_dict().items() if v}
    journey.append(
        {
            "orders": n_orders,
            "segment": served.segment.value,
            "strategy": served.strategy.value,
            "weights": weights,
        }
    )
    print(f"\n{n_orders} orders → {served.segment.value}: {served.explanation}")
    print(f"   weights {weights}")
    display(analysis.recommendation_table(snapshot, served))
display(pd.DataFrame(journey))

# %% [markdown]
# ## 6. Evaluation
#
# The build fitted every model on the orders before a cutoff and scored its top 10 against
# what each customer bought from the cutoff on (products they had not bought before). Rows:
# a random ranking, popularity, each signal alone, the hybrid with the seed weights, the
# tuned hybrid, and the tuned hybrid under store policy (promoted slot, category cap).
# Coverage is the share of the catalogue recommended to anyone, long tail the share of
# slots outside the 20 best sellers.

# %%
print(f"test period from {report.cutoff}; validation from {report.validation_cutoff}")
print(f"{report.users} customers evaluated\n")
print(report.table())

# %%
by_segment = analysis.segment_table(report)
display(by_segment)
plotted = by_segment.drop(index="users")
ax = plotted.plot.barh(figsize=(10, 7), width=0.8)
ax.invert_yaxis()
ax.set(title="NDCG@10 by segment", xlabel="NDCG@10")
plt.show()

# %% [markdown]
# ### Precision, recall and NDCG at K = 1…20
#
# The build's test snapshot is refitted (same cutoff, same blend) and a few rows are
# ranked 20 deep with the engine; at K = 10 the curves reproduce the table above.

# %%
holdout = analysis.replay_holdout(data, result, params)
users = analysis.evaluation_users(holdout.snapshot, holdout.targets, SEED, params.eval_max_users)
served_cf = holdout.snapshot.blend.cf_models[0][0]
hybrid_row = "hybrid (tuned)" if "hybrid (tuned)" in report.results else "hybrid (seed weights)"
factories = analysis.curve_rows(
    holdout.snapshot, ["popularity", served_cf, "content", "rules", "hybrid"]
)
ranked = {"random": analysis.random_rankings(holdout.snapshot, users, 20, SEED)}
ranked.update(
    {name: analysis.rankings(holdout.snapshot, users, f, 20) for name, f in factories.items()}
)
curves = analysis.metric_curves(
    ranked,
    users,
    range(1, 21),
    n_items=holdout.snapshot.n_items,
    head_items=holdout.snapshot.head_items,
)

# Same users, same rankings: the curves at K = 10 are the table's figures.
assert len(users.positions) == report.users
table_row = {name: name for name in ranked} | {"hybrid": hybrid_row}
at10 = curves[curves["k"] == 10].set_index("row")
for name, row in table_row.items():
    assert abs(at10["ndcg"][name] - report.ndcg10(row)) < 1e-9, name

fig, axes = plt.subplots(1, 3, figsize=(15, 4))
for ax, metric in zip(axes, ("precision", "recall", "ndcg"), strict=True):
    for curve, frame in curves.groupby("row", sort=False):
        ax.plot(frame["k"], frame[metric], marker=".", label=curve)
    ax.set(title=f"{metric} at K", xlabel="K", xticks=range(0, 21, 5))
axes[0].legend()
plt.show()
display(curves.pivot(index="k", columns="row", values="ndcg").loc[[1, 5, 10, 20]])

# %% [markdown]
# ### Coverage and the long tail
#
# Accuracy is not everything: popularity shows everyone the same few products, the random
# ranking covers the whole catalogue but finds little.

# %%
breadth = pd.DataFrame(
    {
        name: {
            "coverage@10": result_.row().metrics["coverage@10"],
            "long tail@10": result_.row().metrics["long_tail@10"],
            "NDCG@10": result_.row().metrics["ndcg@10"],
        }
        for name, result_ in report.results.items()
    }
).T
display(breadth)
ax = breadth[["coverage@10", "long tail@10"]].plot.barh(figsize=(9, 5), width=0.8)
ax.invert_yaxis()
ax.set(title="catalogue coverage and long-tail share of the top 10", xlim=(0, 1))
plt.show()

# %% [markdown]
# ### Cart pages
#
# History alone cannot say how much the page should count, so the build also replays each
# held-out order as a cart: one of its products in the cart, the order's other products to
# predict. Rules fired by the cart carry most of it; the blend adds the customer's history.

# %%
assert result.cart_report is not None
cart_by_segment = analysis.segment_table(result.cart_report)
display(cart_by_segment)

# %% [markdown]
# ### The tuned blend and what tuning bought
#
# Tuning searched the light and regular customers' weights and the segment thresholds on
# the validation split (before the test period), then the test period scored both blends.

# %%
blend = snapshot.blend
thresholds = blend.thresholds
display(
    pd.concat(
        {
            "seed": analysis.weights_frame(SEED_WEIGHTS),
            "tuned": analysis.weights_frame(blend.weights),
        },
        axis=1,
    )
)
regular = f"regular from {thresholds.regular_min_orders} orders"
if thresholds.regular_min_items is not None:
    regular += f" or {thresholds.regular_min_items} products"
print(f"segments: light from {thresholds.light_min_orders} order(s), {regular}")
gain = by_segment.loc[["hybrid (seed weights)", hybrid_row]].copy()
gain.loc["tuning bought"] = gain.loc[hybrid_row] - gain.loc["hybrid (seed weights)"]
display(gain)

# %% [markdown]
# ## 7. The same recommendation through the GraphQL API
#
# The server's app, driven in process with `httpx.ASGITransport` (no socket): it loads the
# published build, and its answer for our customer is the engine's answer above, with the
# same reasons.

# %%
from typing import Any

import httpx

from recograph.online.config import ServingConfig
from recograph.serving.app import create_app
from recograph.settings import Settings

QUERY = """
query($customerId: Int!, $limit: Int!) {
  recommendations(customerId: $customerId, limit: $limit) {
    strategy explanation segment modelVersion
    items {
      rank score
      product { id name category }
      reason { kind text metric value evidence { id name } }
    }
  }
}
"""
serving = ServingConfig(reload_poll_seconds=0)
settings = Settings(artifacts_dir=artifacts_root, database_url="", graphiql=False)
app = create_app(settings, config=serving, playground=False)


async def ask(query: str, **variables: object) -> dict[str, Any]:
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
            response = await client.post("/graphql", json={"query": query, "variables": variables})
    response.raise_for_status()
    payload: dict[str, Any] = response.json()
    return payload


body = await ask(QUERY, customerId=customer_id, limit=5)
assert "errors" not in body, body["errors"]
answer = body["data"]["recommendations"]
print(f"model {answer['modelVersion']}: {answer['strategy']}, {answer['explanation']}")
api = pd.DataFrame(
    {
        "rank": [i["rank"] for i in answer["items"]],
        "product_id": [i["product"]["id"] for i in answer["items"]],
        "name": [i["product"]["name"] for i in answer["items"]],
        "reason": [i["reason"]["kind"] for i in answer["items"]],
        "why": [i["reason"]["text"] for i in answer["items"]],
    }
)
display(api)

engine_answer = recommend(snapshot, Request(user=user, limit=5), serving.business_rules)
expected = analysis.recommendation_table(snapshot, engine_answer)
graphql_matches_engine = (
    api["product_id"].tolist() == expected["product_id"].tolist()
    and api["why"].tolist() == expected["why"].tolist()
)
assert graphql_matches_engine
print("the API returned the engine's products and reasons:", graphql_matches_engine)
print("evidence of the first item:", answer["items"][0]["reason"]["evidence"])


# %% [markdown]
# ## Headline figures
#
# The figures above in one place (this cell is read by the test that executes the
# notebook).


# %% tags=["headline"]
def ndcg(row: str, segment: str = "all") -> float:
    assert report is not None
    return round(report.ndcg10(row, segment), 4)


headline = {
    "counts": {**summary.counts, "categories": summary.categories},
    "sparsity": round(matrix.sparsity, 4),
    "top20_revenue_share": round(top20, 4),
    "product_rules": len(product_rules),
    "category_rules": len(category_rules),
    "top_rules": {
        label: {
            "consequent": table.loc[0, "consequent"],
            "confidence": round(float(table["confidence"][0]), 4),
            "lift": round(float(table["lift"][0]), 4),
        }
        for label, table in also.items()
    },
    "factors": {"svd": snapshot.svd.item_factors.shape[1], "als": snapshot.als.n_factors},
    "served_cf": dict(snapshot.blend.cf_models),
    "journey": [{k: step[k] for k in ("orders", "segment", "strategy")} for step in journey],
    "evaluated_customers": report.users,
    "ndcg@10": {row: ndcg(row) for row in report.results},
    "tuning_gain_ndcg@10": round(
        report.ndcg10(hybrid_row) - report.ndcg10("hybrid (seed weights)"), 4
    ),
    "coverage@10": {
        row: round(report.results[row].row().metrics["coverage@10"], 4)
        for row in ("popularity", hybrid_row)
    },
    "long_tail@10": {
        row: round(report.results[row].row().metrics["long_tail@10"], 4)
        for row in ("popularity", hybrid_row)
    },
    "graphql_matches_engine": graphql_matches_engine,
}
print(json.dumps(headline, indent=2))
