"""How strongly products that are due are lifted (`BlendConfig.due_par`): chosen per store on
validation by the rule of `next_basket.best_repeat_keeping_explore`, served by
`engine.final_scores`, recorded in the manifest's ``validation.due_par``."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from recograph.build import BuildResult
from recograph.engine import final_scores, mix_due
from recograph.evaluation import next_basket
from recograph.snapshot import DEFAULT_DUE_PAR, DEFAULT_PAGE_LEADS, BlendConfig, ModelSnapshot


def test_the_due_par_rule_keeps_explore_within_one_se_then_maximises_repeat() -> None:
    # explore: 0.05 mean 0.25; 0.1 mean 0.5; 0.4 mean 0.75 with std 0.5, SE 0.25 -> within
    # are the values scoring at least 0.5: 0.1 and 0.4; of those 0.1 re-buys best (0.5)
    explore = {
        0.05: np.array([0.0, 0.0, 1.0, 0.0]),
        0.1: np.array([0.0, 1.0, 1.0, 0.0]),
        0.4: np.array([1.0, 1.0, 1.0, 0.0]),
    }
    repeat = {0.05: np.array([1.0, 1.0]), 0.1: np.array([1.0, 0.0]), 0.4: np.array([0.0, 0.0])}
    assert next_basket.best_repeat_keeping_explore(repeat, explore) == (0.1, 0.4, [0.1, 0.4])
    # a tie on repeat among the values within: the larger, more conservative one
    even = {0.05: np.array([0.5, 0.5]), 0.1: np.array([0.5, 0.5]), 0.4: np.array([0.5, 0.5])}
    assert next_basket.best_repeat_keeping_explore(even, explore) == (0.4, 0.4, [0.1, 0.4])


def test_mix_due_lifts_by_the_par_given() -> None:
    total = np.array([1.0, 0.5, 0.0], dtype=np.float32)
    due = np.array([0.0, 0.0, 0.05], dtype=np.float32)
    # lifted to chance / par x the best new product's score (1.0), never lowered
    assert mix_due(total, due, 0.1).tolist() == [1.0, 0.5, 0.5]
    assert mix_due(total, due, 0.05).tolist() == [1.0, 0.5, 1.0]
    assert mix_due(total, due, 0.4).tolist() == [1.0, 0.5, 0.125]


def test_final_scores_serve_the_store_s_due_par(snapshot: ModelSnapshot) -> None:
    n = snapshot.n_items
    blended = np.zeros(n, dtype=np.float32)
    blended[0] = 1.0
    due = np.zeros(n, dtype=np.float32)
    due[1] = 0.05
    zeros = np.zeros(n, dtype=np.float32)
    for par, expected in ((0.1, 0.5), (0.05, 1.0), (0.2, 0.25)):
        served = replace(snapshot, blend=replace(snapshot.blend, due_par=par))
        total = final_scores(served, blended, zeros, None, due=due)
        assert float(total[1]) == pytest.approx(expected)


def test_blend_config_keeps_the_choices_and_defaults_without_them() -> None:
    assert BlendConfig.from_dict({}).due_par == DEFAULT_DUE_PAR
    assert dict(BlendConfig.from_dict({}).page_leads) == dict(DEFAULT_PAGE_LEADS)
    chosen = replace(BlendConfig(), due_par=0.2, page_leads={**DEFAULT_PAGE_LEADS})
    chosen = replace(chosen, page_leads={**chosen.page_leads, **{k: 2 for k in chosen.page_leads}})
    again = BlendConfig.from_dict(chosen.to_dict())
    assert again.due_par == 0.2
    assert set(again.page_leads.values()) == {2}


def test_the_demo_build_serves_the_due_par_its_manifest_records(demo_build: BuildResult) -> None:
    served = BlendConfig.from_dict(demo_build.manifest["blend"])
    record = demo_build.manifest["validation"]["due_par"]
    assert record["outcome"] == "chosen"
    assert served.due_par == record["due_par"]
    explore = {float(k): v for k, v in record["explore_ndcg@10"].items()}
    repeat = {float(k): v for k, v in record["repeat_ndcg@10"].items()}
    assert sorted(explore) == list(next_basket.DUE_PAR_CANDIDATES)
    best = explore[record["best_explore"]]
    floor = best["ndcg@10"] - best["standard_error"]
    within = [p for p, v in explore.items() if v["ndcg@10"] >= floor]
    assert record["within_one_se"] == within
    assert record["due_par"] == max(within, key=lambda p: (repeat[p]["ndcg@10"], p))
