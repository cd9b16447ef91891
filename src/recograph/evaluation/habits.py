"""What each learned store habit is worth on the validation split.

The habits (`recommenders.repeat`): owned products that customers re-buy come back, ranked by
their buy-again score (``repeat``); owned categories are damped by their another-product rate
(``damping``); each customer's own re-buy tendency scales their chances (``customer``). Each is
switched off in turn (`RepeatModel.without`) and the served hybrid re-scored with
`engine.recommend` on the same customers, on all held-out products and on those new to the
customer, so the build report shows what each habit gains or costs.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np

from recograph.engine import Request, recommend
from recograph.evaluation.evaluate import K_MAX, NO_POLICY, evaluation_users
from recograph.evaluation.metrics import ndcg_at_k
from recograph.evaluation.split import Split, test_targets
from recograph.snapshot import ModelSnapshot

HABITS = ("repeat", "damping", "customer")
ALL_ITEMS = "ndcg@10 all items"
NEW_ITEMS = "ndcg@10 new items"


def _mean_and_error(values: list[float]) -> tuple[float | None, float | None]:
    if not values:
        return None, None
    array = np.asarray(values, dtype=np.float64)
    error = float(array.std(ddof=1) / np.sqrt(array.size)) if array.size > 1 else None
    return round(float(array.mean()), 4), None if error is None else round(error, 4)


def habit_effects(
    snapshot: ModelSnapshot, split: Split, seed: int, max_users: int = 3000
) -> dict[str, Any]:
    """NDCG@10 (mean and standard error) of the served hybrid with every habit and without
    each one, on the split's held-out purchases: all of them, and those new to the customer."""
    everything = test_targets(split, include_repeats=True)
    new = test_targets(split)
    users = evaluation_users(snapshot, everything, seed, max_users)
    customer_ids = snapshot.histories.user_ids[users.positions]
    new_relevant = []
    for customer in customer_ids.tolist():
        items = snapshot.catalogue.index.positions(np.array(sorted(new.get(customer, set()))))
        new_relevant.append({int(i) for i in items if i >= 0})
    repeat = snapshot.repeat
    rows: dict[str, dict[str, Any]] = {}
    variants = {"all habits": snapshot} | {
        f"without {habit}": replace(snapshot, repeat=repeat.without(habit)) for habit in HABITS
    }
    for name, variant in variants.items():
        recommended = np.full((len(users.positions), K_MAX), -1, dtype=np.int64)
        for row, user in enumerate(users.positions.tolist()):
            request = Request(user=user, limit=K_MAX, in_stock_only=False)
            chosen = [item.position for item in recommend(variant, request, NO_POLICY).items]
            recommended[row, : len(chosen)] = chosen
        on_all = np.asarray(ndcg_at_k(recommended, users.relevant, K_MAX), dtype=np.float64)
        has_new = [bool(r) for r in new_relevant]
        on_new = np.asarray(
            ndcg_at_k(recommended[has_new], [r for r in new_relevant if r], K_MAX),
            dtype=np.float64,
        )
        mean_all, error_all = _mean_and_error(on_all.tolist())
        mean_new, error_new = _mean_and_error(on_new.tolist())
        rows[name] = {
            ALL_ITEMS: mean_all,
            "se all items": error_all,
            NEW_ITEMS: mean_new,
            "se new items": error_new,
        }
    return {
        "users": len(users.positions),
        "users_with_new_items": int(sum(bool(r) for r in new_relevant)),
        "learned": {
            "repeat_share": round(repeat.share, 4),
            "categories_re_bought_same_product": int(repeat.repeatable.sum()),
            "categories": len(repeat.repeatable),
            "products_with_re_buyers": int((repeat.item_repeaters > 0).sum()),
            "median_another_product_rate": round(float(np.median(repeat.another_rate)), 4)
            if len(repeat.another_rate)
            else None,
        },
        "rows": rows,
    }


def format_habits(habits: dict[str, Any]) -> str:
    """The habit table as `recograph build` prints it."""
    learned = habits["learned"]
    lines = [
        f"store habits on the validation split ({habits['users']} customers, "
        f"{habits['users_with_new_items']} with new products): repeat share "
        f"{learned['repeat_share']}, {learned['categories_re_bought_same_product']} of "
        f"{learned['categories']} categories re-bought product for product, median "
        f"another-product rate {learned['median_another_product_rate']}",
        f"{'served hybrid':<20} {'nDCG@10 all':>12} {'± se':>7} {'nDCG@10 new':>12} {'± se':>7}",
    ]

    def cell(value: float | None) -> str:
        return "-" if value is None else f"{value:.4f}"

    for name, row in habits["rows"].items():
        lines.append(
            f"{name:<20} {cell(row[ALL_ITEMS]):>12} {cell(row['se all items']):>7} "
            f"{cell(row[NEW_ITEMS]):>12} {cell(row['se new items']):>7}"
        )
    return "\n".join(lines)
