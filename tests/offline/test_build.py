"""The offline build on the demo store: planted patterns, artifacts, evaluation, failures."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from recograph import artifacts
from recograph.build import BuildParams, BuildResult, build_artifacts
from recograph.cli import main
from recograph.dataset import StoreData
from recograph.snapshot import ModelSnapshot, load_snapshot

PLANTED = [
    ("Laptops", "Wireless Mice"),
    ("Laptops", "USB-C Hubs & Docks"),
    ("Laptops", "Laptop Sleeves"),
    ("Laptops", "External SSDs"),
    ("Laptops", "Mechanical Keyboards"),
    ("Over-Ear Headphones", "Headphone Amplifiers"),
    ("Over-Ear Headphones", "DACs & Balanced Cables"),
    ("Over-Ear Headphones", "Headphone Cases"),
    ("Gaming Mice", "Gaming Headsets"),
    ("Gaming Mice", "Mechanical Keyboards"),
    ("Gaming Mice", "Gaming Monitors"),
    ("Gaming Mice", "XL Mouse Pads"),
]


def category_rule(snapshot: ModelSnapshot, antecedent: str, consequent: str) -> int:
    """The single-antecedent category rule antecedent → consequent (fails when absent)."""
    catalogue, rules = snapshot.catalogue, snapshot.category_rules
    a, c = catalogue.category_position(antecedent), catalogue.category_position(consequent)
    for rule in range(len(rules)):
        if rules.antecedent(rule).tolist() == [a] and rules.consequent(rule).tolist() == [c]:
            return rule
    raise AssertionError(f"no category rule {antecedent} → {consequent}")


def test_laptop_to_wireless_mouse_rule_has_the_planted_strength(snapshot: ModelSnapshot) -> None:
    rule = category_rule(snapshot, "Laptops", "Wireless Mice")
    rules = snapshot.category_rules
    assert 2.5 <= rules.lift[rule] <= 4.0
    assert 0.5 <= rules.confidence[rule] <= 0.8
    assert 0.06 <= rules.support[rule] <= 0.11


@pytest.mark.parametrize(("antecedent", "consequent"), PLANTED)
def test_every_planted_pattern_is_mined(
    snapshot: ModelSnapshot, antecedent: str, consequent: str
) -> None:
    rule = category_rule(snapshot, antecedent, consequent)
    assert snapshot.category_rules.lift[rule] > 1.5


def test_rule_metrics_agree_with_counts(snapshot: ModelSnapshot) -> None:
    rules = snapshot.category_rules
    n = rules.n_baskets
    np.testing.assert_allclose(rules.support, rules.count / n)
    np.testing.assert_allclose(rules.confidence, rules.count / rules.antecedent_count)
    np.testing.assert_allclose(
        rules.lift, rules.confidence / (rules.consequent_count / n), rtol=1e-9
    )


def test_product_rules_exist_and_only_raise_likelihood(snapshot: ModelSnapshot) -> None:
    assert len(snapshot.product_rules) > 20
    assert (snapshot.product_rules.lift >= 1.0).all()


def test_manifest_records_versions_counts_and_metrics(demo_build: BuildResult) -> None:
    manifest = demo_build.manifest
    assert manifest["counts"]["products"] == 291
    assert manifest["counts"]["orders"] == 5000
    assert manifest["counts"]["completed_orders"] == 4400
    assert manifest["seed"] == 42
    assert set(manifest["timings"]) >= {"rules", "item_knn", "als", "content", "publish"}
    models = manifest["metrics"]["models"]
    assert {"random", "popularity", "item_knn", "content", "rules"} <= set(models)
    assert {"hybrid (seed weights)", "hybrid + business rules"} <= set(models)
    assert len(manifest["data_fingerprint"]) == 64


def test_hybrid_beats_popularity_and_random(demo_build: BuildResult) -> None:
    report = demo_build.report
    assert report is not None
    hybrid = report.ndcg10("hybrid (seed weights)")
    assert hybrid > 1.1 * report.ndcg10("popularity")
    assert hybrid > report.ndcg10("content")
    assert hybrid > report.ndcg10("rules")
    assert report.ndcg10("popularity") > 3 * report.ndcg10("random")
    for segment in ("new", "light", "regular"):
        assert report.results["random"].row(segment).users > 0


def test_cart_pages_are_evaluated_and_the_page_pays(demo_build: BuildResult) -> None:
    cart = demo_build.cart_report
    assert cart is not None
    assert demo_build.manifest["metrics"]["cart"] == cart.to_dict()
    assert cart.users > 300
    hybrid = cart.ndcg10("hybrid (context weights)")
    # with a product in the cart, its rules beat history-only popularity, and the blend both
    assert cart.ndcg10("rules") > 1.3 * cart.ndcg10("popularity")
    assert hybrid > cart.ndcg10("popularity") > 3 * cart.ndcg10("random")
    assert hybrid > cart.ndcg10("content")
    # Untuned, history and page weights differ only where the validation guarantee made a
    # segment serve its best single signal (on the demo: light customers, CF alone).
    blend = demo_build.manifest["blend"]
    differ = blend["weights"] != blend["context_weights"]
    assert ("hybrid (history weights)" in cart.results) == differ


def test_published_build_loads_to_the_same_arrays(demo_build: BuildResult) -> None:
    assert demo_build.path is not None
    loaded = artifacts.load(demo_build.path)
    snapshot = load_snapshot(demo_build.path)
    for name, array in snapshot.to_arrays().items():
        np.testing.assert_array_equal(loaded.arrays[name], array, err_msg=name)


def test_same_input_and_seed_give_identical_arrays(demo_store: StoreData, tmp_path: Path) -> None:
    first = build_artifacts(demo_store, tmp_path / "a", BuildParams(seed=3), evaluate=False)
    second = build_artifacts(demo_store, tmp_path / "b", BuildParams(seed=3), evaluate=False)
    assert first.path is not None
    assert second.path is not None
    a, b = artifacts.load(first.path), artifacts.load(second.path)
    assert a.manifest["arrays"] == b.manifest["arrays"]  # same dtype, shape and checksum


def test_a_build_failing_half_way_leaves_current_alone(
    demo_store: StoreData, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = build_artifacts(demo_store, tmp_path, evaluate=False)
    assert artifacts.current_version(tmp_path) == first.version

    def broken(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr("recograph.build.fit_content", broken)
    with pytest.raises(RuntimeError, match="disk on fire"):
        build_artifacts(demo_store, tmp_path, evaluate=False)
    assert artifacts.current_version(tmp_path) == first.version
    assert artifacts.list_versions(tmp_path) == [first.version]
    load_snapshot(tmp_path)


def _copy_build(source: Path, root: Path, version: str) -> Path:
    target = root / version
    target.mkdir(parents=True)
    for entry in source.iterdir():
        (target / entry.name).write_bytes(entry.read_bytes())
    return target


def test_truncated_arrays_are_refused(demo_build: BuildResult, tmp_path: Path) -> None:
    assert demo_build.path is not None
    copy = _copy_build(demo_build.path, tmp_path, "broken")
    data = (copy / artifacts.ARRAYS_FILE).read_bytes()
    (copy / artifacts.ARRAYS_FILE).write_bytes(data[: len(data) // 2])
    with pytest.raises(artifacts.ArtifactError, match=r"unreadable|missing|checksum"):
        load_snapshot(copy)


def test_wrong_format_version_is_refused(demo_build: BuildResult, tmp_path: Path) -> None:
    assert demo_build.path is not None
    copy = _copy_build(demo_build.path, tmp_path, "future")
    manifest = json.loads((copy / artifacts.MANIFEST_FILE).read_text())
    manifest["format_version"] = 99
    (copy / artifacts.MANIFEST_FILE).write_text(json.dumps(manifest))
    with pytest.raises(artifacts.ArtifactError, match="format 99"):
        load_snapshot(copy)


def test_swapped_array_fails_its_checksum(demo_build: BuildResult, tmp_path: Path) -> None:
    assert demo_build.path is not None
    copy = _copy_build(demo_build.path, tmp_path, "swapped")
    loaded = artifacts.load(copy)
    arrays = dict(loaded.arrays)
    arrays["catalogue.price"] = arrays["catalogue.price"] * 2
    np.savez(copy / artifacts.ARRAYS_FILE, allow_pickle=False, **arrays)
    with pytest.raises(artifacts.ArtifactError, match=r"catalogue\.price.*checksum"):
        load_snapshot(copy)


def test_build_cli_prints_json(
    demo_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status = main(
        ["build", "--data", str(demo_dir), "--artifacts", str(tmp_path), "--json", "--no-eval"]
    )
    assert status == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["path"] == str(tmp_path / summary["version"])
    assert summary["counts"]["order_items"] == 15000
    assert artifacts.current_version(tmp_path) == summary["version"]


def test_build_cli_on_a_missing_directory_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status = main(["build", "--data", str(tmp_path / "nope"), "--artifacts", str(tmp_path)])
    assert status == 2
    assert "does not exist" in capsys.readouterr().err
