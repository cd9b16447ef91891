"""Variant configuration and stable assignment: same visitor, same variant; share changes move
only the buckets that change hands."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from recograph.core.vocabulary import Strategy, Weights
from recograph.engine import BusinessRules, Request
from recograph.online.variants import (
    BUCKETS,
    Experiment,
    Variant,
    bucket_of,
    load_experiment,
    parse_experiment,
)
from recograph.settings import SettingsError

CUSTOMERS = range(1, 20_001)


def two(share_a: float, share_b: float, salt: str = "exp") -> Experiment:
    return Experiment((Variant("a", share_a), Variant("b", share_b)), salt)


def assignments(experiment: Experiment) -> dict[int, str | None]:
    out: dict[int, str | None] = {}
    for customer in CUSTOMERS:
        variant = experiment.assign(customer, None)
        out[customer] = None if variant is None else variant.name
    return out


def test_the_same_visitor_always_gets_the_same_variant() -> None:
    first = two(0.5, 0.5)
    again = parse_experiment(
        {"salt": "exp", "variants": [{"name": "a", "share": 0.5}, {"name": "b", "share": 0.5}]}
    )
    assert assignments(first) == assignments(again)
    assert first.assign(7, "any-session") == first.assign(7, "another-session")
    # Anonymous visitors are assigned by session id, stably too.
    by_session = {first.assign(None, f"s-{i}") for i in range(50)}
    assert {v.name for v in by_session if v is not None} == {"a", "b"}
    assert first.assign(None, "s-1") == first.assign(None, "s-1")
    assert first.assign(None, None) is None


def test_buckets_do_not_depend_on_shares_and_shares_are_respected() -> None:
    assert bucket_of("customer:1", "exp") == bucket_of("customer:1", "exp")
    assert 0 <= bucket_of("customer:1", "exp") < BUCKETS
    counts = {"a": 0, "b": 0, None: 0}
    for name in assignments(Experiment((Variant("a", 0.2), Variant("b", 0.3)), "exp")).values():
        counts[name] += 1
    assert counts["a"] / len(CUSTOMERS) == pytest.approx(0.2, abs=0.015)
    assert counts["b"] / len(CUSTOMERS) == pytest.approx(0.3, abs=0.015)
    assert counts[None] / len(CUSTOMERS) == pytest.approx(0.5, abs=0.015)


def test_changing_two_shares_moves_only_the_difference() -> None:
    before = assignments(two(0.5, 0.5))
    after = assignments(two(0.6, 0.4))
    moved = [c for c in CUSTOMERS if before[c] != after[c]]
    # Only b -> a, and only the buckets [5000, 6000): 10% of visitors.
    assert {(before[c], after[c]) for c in moved} == {("b", "a")}
    assert len(moved) / len(CUSTOMERS) == pytest.approx(0.1, abs=0.01)
    assert all(5000 <= bucket_of(f"customer:{c}", "exp") < 6000 for c in moved)


def test_neighbour_changes_and_appended_variants_leave_the_others_alone() -> None:
    a, b, c = Variant("a", 0.4), Variant("b", 0.3), Variant("c", 0.3)
    before = assignments(Experiment((a, b, c), "exp"))
    shifted = assignments(Experiment((a, Variant("b", 0.2), Variant("c", 0.4)), "exp"))
    moves = {(before[k], shifted[k]) for k in CUSTOMERS if before[k] != shifted[k]}
    assert moves == {("b", "c")}
    appended = assignments(Experiment((a, b, Variant("c", 0.2), Variant("d", 0.1)), "exp"))
    moves = {(before[k], appended[k]) for k in CUSTOMERS if before[k] != appended[k]}
    assert moves == {("c", "d")}


def test_a_new_salt_reshuffles_about_half() -> None:
    before = assignments(two(0.5, 0.5, salt="exp"))
    after = assignments(two(0.5, 0.5, salt="exp-2"))
    moved = sum(before[c] != after[c] for c in CUSTOMERS) / len(CUSTOMERS)
    assert moved == pytest.approx(0.5, abs=0.02)


def test_explicit_requests_stay_outside_the_experiment() -> None:
    experiment = Experiment((Variant("only", 1.0),))
    assert experiment.for_request(1, None, strategy=Strategy.HYBRID, weights_given=False) == (
        Variant("only", 1.0)
    )
    assert experiment.for_request(1, None, strategy=Strategy.CONTENT, weights_given=False) is None
    assert experiment.for_request(1, None, strategy=Strategy.HYBRID, weights_given=True) is None
    assert Experiment().assign(1, None) is None


def test_a_variant_changes_strategy_weights_and_business_rules() -> None:
    variant = parse_experiment(
        [
            {
                "name": "lean",
                "share": 1,
                "strategy": "popular",
                "weights": {"popularity": 2, "rules": 1},
                "promoted_slots": [5, 1, 5],
                "margin_weight": 0.25,
                "category_cap": 0,
            }
        ]
    ).variants[0]
    request, rules = variant.apply(Request(limit=4), BusinessRules())
    assert request == Request(
        limit=4, strategy=Strategy.POPULAR, weights=Weights(popularity=2.0, rules=1.0)
    )
    assert rules == BusinessRules(
        promoted_positions=(1, 5), margin_weight=0.25, max_per_category=None
    )
    untouched = Variant("plain", 0.5).apply(Request(limit=4), BusinessRules())
    assert untouched == (Request(limit=4), BusinessRules())


def test_configuration_from_env_json_and_toml(tmp_path: Path) -> None:
    text = '[{"name":"control","share":0.5,"strategy":"POPULAR"},{"name":"hybrid","share":0.5}]'
    experiment = Experiment.from_env({"RECOGRAPH_VARIANTS": text})
    assert [(v.name, v.share, v.strategy) for v in experiment.variants] == [
        ("control", 0.5, Strategy.POPULAR),
        ("hybrid", 0.5, None),
    ]
    assert experiment.salt == "recograph"
    assert Experiment.from_env({}) == Experiment()
    toml = tmp_path / "variants.toml"
    toml.write_text(
        'salt = "winter"\n[[variants]]\nname = "control"\nshare = 0.25\nstrategy = "POPULAR"\n'
        '[[variants]]\nname = "hybrid"\nshare = 0.75\n[variants.weights]\ncf = 1.0\n'
    )
    from_toml = Experiment.from_env({"RECOGRAPH_VARIANTS": str(toml)})
    assert from_toml.salt == "winter"
    assert from_toml.bounds == (2500, 10_000)
    assert from_toml.variants[1].weights == Weights(cf=1.0)
    as_json = tmp_path / "variants.json"
    as_json.write_text(json.dumps({"salt": "winter", "variants": [{"name": "x", "share": 1}]}))
    assert load_experiment(as_json) == Experiment((Variant("x", 1.0),), "winter")


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ([{"name": "a", "share": 0.7}, {"name": "b", "share": 0.4}], "add up to 1.1, more than 1"),
        ([{"name": "a", "share": 0.5}, {"name": "a", "share": 0.5}], "must be unique"),
        ([{"name": "a", "share": 0}], "variants[0] (a).share must be in (0, 1], got 0"),
        ([{"name": "a", "share": "half"}], "variants[0] (a).share must be a number"),
        ([{"name": "a", "share": 1, "strategy": "RANDOM"}], "strategy must be one of"),
        ([{"name": "a", "share": 1, "weigths": {}}], "unknown key(s) weigths"),
        ([{"name": "a", "share": 1, "weights": {"cf": 0}}], "at least one weight must be"),
        ([{"name": "a", "share": 1, "weights": {"magic": 1}}], "unknown signal(s) magic"),
        ([{"name": "a", "share": 1, "category_cap": -1}], "category_cap must be a whole number"),
        ([{"name": "a", "share": 1, "promoted_slots": [0]}], "promoted_slots must hold ranks"),
        ([{"name": "", "share": 1}], "variants[0].name must be a non-empty string"),
        ({"salt": "", "variants": []}, "salt must be a non-empty string"),
        ({"variants": [], "extra": 1}, "unknown key(s) extra"),
        ("nope", "variants must be a list"),
    ],
)
def test_bad_configuration_names_the_field(config: object, message: str) -> None:
    with pytest.raises(SettingsError) as caught:
        parse_experiment(config, "RECOGRAPH_VARIANTS")
    assert message in str(caught.value)
    assert str(caught.value).startswith("RECOGRAPH_VARIANTS")


def test_unreadable_configuration(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="cannot read"):
        Experiment.from_env({"RECOGRAPH_VARIANTS": str(tmp_path / "missing.toml")})
    with pytest.raises(SettingsError, match="not valid JSON"):
        Experiment.from_env({"RECOGRAPH_VARIANTS": "[{"})


def test_serve_refuses_bad_variants_before_starting(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from recograph.cli import main

    monkeypatch.setenv("RECOGRAPH_VARIANTS", '[{"name": "a", "share": 2}]')
    assert main(["serve"]) == 2
    assert "RECOGRAPH_VARIANTS: variants[0] (a).share must be in (0, 1], got 2" in caplog.text
