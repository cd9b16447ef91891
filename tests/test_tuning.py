"""Blend tuning: the tuner scores what the engine serves, and adopts a candidate only when it
beats the default by more than the noise."""

from __future__ import annotations

import numpy as np
import pytest

from recograph.engine import Context, Request, recommend
from recograph.evaluation import evaluate
from recograph.evaluation.evaluate import NO_POLICY, pick_candidate
from recograph.evaluation.metrics import ndcg_at_k
from recograph.recommenders.blend import PageType, SignalName, Weights
from recograph.snapshot import ModelSnapshot


def test_pick_candidate_needs_more_than_one_standard_error() -> None:
    base = np.array([0.2, 0.4, 0.1, 0.3])
    # Better by 0.1 for every user: no spread, so any gain counts.
    assert pick_candidate([base, base + 0.1], default=0) == 1
    # Better by 0.05 on average with differences 0.3, -0.2, 0.25, -0.15: their standard
    # deviation is 0.2677, the standard error 0.2677 / 2 = 0.134 > 0.05, so the default stays.
    noisy = base + np.array([0.3, -0.2, 0.25, -0.15])
    assert pick_candidate([base, noisy], default=0) == 0
    assert pick_candidate([noisy, base], default=1) == 1
    # The default is the best: kept; equal best means: the lower index wins.
    assert pick_candidate([base + 0.1, base], default=0) == 0
    assert pick_candidate([base, base + 0.1, base + 0.1], default=0) == 1
    # Users with nothing to find (NaN) take no part.
    with_nan = np.array([0.2, 0.4, 0.1, np.nan])
    assert pick_candidate([with_nan, with_nan + 0.1], default=0) == 1
    # Fewer than two comparable users: no evidence, the default.
    assert pick_candidate([np.array([0.1]), np.array([0.9])], default=0) == 0


def test_the_tuner_scores_exactly_what_the_engine_serves(snapshot: ModelSnapshot) -> None:
    # The tuner ranks from stacked signals for speed. When its blend differed from
    # `engine.recommend` (it left out the damping of categories the customer owns) it chose
    # weights for a model nobody served; on the demo store those lost on the test split.
    # Targets: unbought products of the categories each customer owns, where damping acts.
    category = snapshot.catalogue.category
    matrix = snapshot.interactions
    rows: list[tuple[int | None, Context]] = []
    relevant: list[set[int]] = []
    for user in range(0, 400, 5):
        owned = matrix.indices[matrix.indptr[user] : matrix.indptr[user + 1]]
        if owned.size == 0:
            continue
        same = set(np.flatnonzero(np.isin(category, category[owned])).tolist()) - set(owned)
        if not same:
            continue
        anchor = int(owned[0])
        rows += [(user, Context()), (user, Context(cart=(anchor,), page_type=PageType.CART))]
        relevant += [same, same]
    assert len(rows) >= 60
    stack = evaluate._stack(snapshot, rows)
    cf = sum(
        (np.float32(w) * stack.cf_models[name] for name, w in snapshot.blend.cf_models),
        start=np.zeros_like(stack.signals[SignalName.POPULARITY]),
    )
    candidates = [Weights(content=1.0), Weights(content=0.5, rules=0.5), Weights(cf=0.9, rules=0.1)]
    for weights in candidates:
        for page in (None, PageType.CART):
            chosen = np.array([context.page_type is page for _, context in rows])
            tuner = evaluate._ndcg_values(stack, chosen, relevant, weights, cf, page)
            served = []
            for (user, context), targets in zip(rows, relevant, strict=True):
                if context.page_type is not page:
                    continue
                request = Request(user=user, context=context, weights=weights, in_stock_only=False)
                ranked = [item.position for item in recommend(snapshot, request, NO_POLICY).items]
                row = np.array([ranked + [-1] * (10 - len(ranked))])
                served.append(float(ndcg_at_k(row, [targets], 10)[0]))
            assert tuner.tolist() == pytest.approx(served), f"{weights} on {page}"
