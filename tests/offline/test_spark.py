"""The Spark engine of the build: FPGrowth rules equal the local rules, Spark ALS lists agree
with the local ones, and the server loads a Spark-built artifact directory unchanged.

One local Spark session (``local[2]``) serves the whole module; the demo store is built on
Spark once, through the CLI, and compared with the session's local build (tests/conftest.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
import scipy.sparse as sp

from recograph import artifacts
from recograph.cli import main
from recograph.engine import Context, Request, recommend
from recograph.online.state import ServingState
from recograph.recommenders.als import ALSModel, fit_als, fold_in_als
from recograph.recommenders.rules import METRICS, RuleSet
from recograph.snapshot import ModelSnapshot, load_snapshot
from tests.tiny_store import AMP, HEADPHONES, LAPTOP, MOUSE, TINY_PARAMS, tiny_store

try:
    from pyspark.sql import SparkSession

    from recograph import spark as engine
except ImportError as exc:  # no pyspark (the 'spark' extra) or no Java 17+
    pytest.skip(f"Spark engine unavailable: {exc}", allow_module_level=True)

pytestmark = pytest.mark.spark

# C1-only JIT and the serial collector: these jobs are short and the machine has two cores.
TEST_JAVA_OPTIONS = "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC"


@pytest.fixture(scope="module")
def session() -> Iterator[SparkSession]:
    with engine.spark_session("local[2]", java_options=TEST_JAVA_OPTIONS) as spark:
        yield spark


@pytest.fixture(scope="module")
def spark_root(
    session: SparkSession, demo_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """The artifact root of ``recograph build --engine spark`` on the demo store (no
    evaluation). The CLI finds the module's session running and uses it."""
    root = tmp_path_factory.mktemp("spark-artifacts")
    no_database = tmp_path_factory.mktemp("spark-db") / "absent.db"
    with pytest.MonkeyPatch.context() as env:  # nothing to record the model version in
        env.setenv("RECOGRAPH_DATABASE_URL", f"sqlite+aiosqlite:///{no_database}")
        status = main(
            [
                *("build", "--engine", "spark", "--no-eval", "--json", "--seed", "42"),
                *("--data", str(demo_dir), "--artifacts", str(root)),
            ]
        )
    assert status == 0
    return root


@pytest.fixture(scope="module")
def spark_manifest(spark_root: Path) -> dict[str, Any]:
    manifest: dict[str, Any] = artifacts.load(spark_root).manifest
    return manifest


@pytest.fixture(scope="module")
def spark_snapshot(spark_root: Path) -> ModelSnapshot:
    return load_snapshot(spark_root)


# ---------------------------------------------------------------------------- rules


def rule_table(rules: RuleSet) -> dict[tuple[tuple[int, ...], tuple[int, ...]], list[float]]:
    """(antecedent, consequent) -> metrics and counts, for comparing two rule sets."""
    return {
        (tuple(rules.antecedent(r).tolist()), tuple(rules.consequent(r).tolist())): [
            *(float(getattr(rules, m)[r]) for m in METRICS),
            float(rules.count[r]),
            float(rules.antecedent_count[r]),
            float(rules.consequent_count[r]),
        ]
        for r in range(len(rules))
    }


# Five baskets over items 0..3, worked by hand with min_count 2 (min_support 0.4):
# counts 0:3 1:3 2:3 3:2, {0,1}:3 {0,2}:2 {1,2}:2 {0,1,2}:2 ({2,3}:1 is not frequent).
HAND_BASKETS = {1: [0, 1, 2], 2: [0, 1, 2], 3: [0, 1], 4: [3], 5: [2, 3]}


def hand_pairs() -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    baskets = [(b, i) for b, items in HAND_BASKETS.items() for i in items]
    return np.array([b for b, _ in baskets]), np.array([i for _, i in baskets])


def test_fpgrowth_rules_match_the_hand_worked_example(session: SparkSession) -> None:
    basket_ids, items = hand_pairs()
    rules = engine.mine_rules_spark(
        session, basket_ids, items, 4, min_support=0.4, min_confidence=2 / 3, max_len=3
    )
    # Lift 5/3 (confidence 1 or 3/3) first, by count; then lift 10/9 (confidence 2/3, exactly
    # the threshold), by antecedent then consequent.
    assert [(tuple(rules.antecedent(r)), tuple(rules.consequent(r))) for r in range(9)] == [
        ((0,), (1,)),
        ((1,), (0,)),
        ((0, 2), (1,)),
        ((1, 2), (0,)),
        ((0,), (2,)),
        ((0, 1), (2,)),
        ((1,), (2,)),
        ((2,), (0,)),
        ((2,), (1,)),
    ]
    assert len(rules) == 9
    assert rules.count.tolist() == [3, 3, 2, 2, 2, 2, 2, 2, 2]
    assert rules.antecedent_count.tolist() == [3, 3, 2, 2, 3, 3, 3, 3, 3]
    assert rules.consequent_count.tolist() == [3] * 9
    np.testing.assert_allclose(rules.lift, [5 / 3] * 4 + [10 / 9] * 5)
    np.testing.assert_allclose(rules.confidence, [1.0] * 4 + [2 / 3] * 5)
    np.testing.assert_allclose(rules.support, [0.6, 0.6] + [0.4] * 7)
    np.testing.assert_allclose(rules.leverage, [0.24, 0.24, 0.16, 0.16] + [0.04] * 5)
    np.testing.assert_allclose(rules.conviction, [np.inf] * 4 + [1.2] * 5)
    assert (rules.n_baskets, rules.n_items) == (5, 4)


def test_fpgrowth_rules_honour_max_len_and_min_lift(session: SparkSession) -> None:
    basket_ids, items = hand_pairs()
    rules = engine.mine_rules_spark(
        session, basket_ids, items, 4, min_support=0.4, min_confidence=0.5, min_lift=1.2, max_len=2
    )
    assert rule_table(rules).keys() == {((0,), (1,)), ((1,), (0,))}


@pytest.mark.parametrize("level", ["product_rules", "category_rules"])
def test_spark_rules_equal_the_local_rules(
    snapshot: ModelSnapshot, spark_snapshot: ModelSnapshot, level: str
) -> None:
    local: RuleSet = getattr(snapshot, level)
    spark: RuleSet = getattr(spark_snapshot, level)
    local_table, spark_table = rule_table(local), rule_table(spark)
    assert len(local_table) > 100
    assert spark_table.keys() == local_table.keys()
    for key, values in local_table.items():
        np.testing.assert_allclose(spark_table[key], values, rtol=1e-12, err_msg=str(key))
    assert (spark.n_baskets, spark.n_items) == (local.n_baskets, local.n_items)


# ---------------------------------------------------------------------------- ALS


def top10(model: ALSModel, bought: sp.csr_matrix) -> npt.NDArray[np.int64]:
    """Every customer's ten best unbought products by stored ALS factors."""
    scores = model.user_factors @ model.item_factors.T
    scores[bought.nonzero()] = -np.inf
    return np.argsort(-scores, axis=1, kind="stable")[:, :10].astype(np.int64)


def overlap(a: ALSModel, b: ALSModel, matrix: sp.csr_matrix) -> npt.NDArray[np.float64]:
    """Per customer with purchases, the share of top-10 products both models list."""
    buyers = np.flatnonzero(np.diff(matrix.indptr) > 0)
    lists_a, lists_b = top10(a, matrix), top10(b, matrix)
    return np.array([len(set(lists_a[u]) & set(lists_b[u])) / 10 for u in buyers])


def checkerboard(groups: int, users: int, items: int) -> sp.csr_matrix:
    """Block-diagonal purchases: user ``j`` of group ``g`` bought items ``j, j+1, j+2``
    (mod ``items``) of that group's ``items`` products and nothing outside it."""
    rows, cols = [], []
    for g in range(groups):
        for j in range(users):
            for k in range(3):
                rows.append(g * users + j)
                cols.append(g * items + (j + k) % items)
    shape = (groups * users, groups * items)
    return sp.csr_matrix((np.ones(len(rows), np.float32), (rows, cols)), shape=shape)


def test_both_engines_recommend_the_rest_of_each_checkerboard_block(
    session: SparkSession,
) -> None:
    matrix = checkerboard(groups=3, users=12, items=6)
    hyper: dict[str, Any] = {
        "factors": 3,
        "regularization": 0.05,
        "iterations": 15,
        "alpha": 2.0,
        "seed": 42,
    }
    models = {
        "local": fit_als(matrix, **hyper),
        "spark": engine.fit_als_spark(session, matrix, **hyper),
    }
    for name, model in models.items():
        lists = top10(model, matrix)[:, :3]
        for user in range(matrix.shape[0]):
            group = user // 12
            unbought = set(range(group * 6, group * 6 + 6)) - set(matrix[user].indices.tolist())
            assert set(lists[user].tolist()) == unbought, (name, user)


def test_spark_als_lists_agree_with_the_local_ones_on_most_customers(
    snapshot: ModelSnapshot, spark_snapshot: ModelSnapshot
) -> None:
    """Both engines fit the same confidences, factors, iterations and seed, but ALS is not
    convex: different solvers and random starts end in different optima. On the demo store
    Spark's lists share 0.63 of the local top 10 on average (82% of customers share at least
    half); the local engine with seeds 1, 2 and 43 shares 0.71-0.78 with seed 42, and Spark
    with seed 1 shares 0.94."""
    assert spark_snapshot.als.item_factors.shape == snapshot.als.item_factors.shape
    assert spark_snapshot.als.user_factors.shape == snapshot.als.user_factors.shape
    spark = overlap(snapshot.als, spark_snapshot.als, snapshot.interactions)
    assert spark.mean() >= 0.5
    assert (spark >= 0.5).mean() >= 0.7


def test_spark_user_factors_are_the_fold_in_of_their_history(
    spark_snapshot: ModelSnapshot,
) -> None:
    """So the server scores a customer alike by stored factors and by folded-in history."""
    matrix = spark_snapshot.interactions
    for user in np.flatnonzero(np.diff(matrix.indptr) > 0)[:20]:
        history = matrix[user].toarray().ravel()
        np.testing.assert_allclose(
            fold_in_als(spark_snapshot.als, history),
            spark_snapshot.als.user_factors[user],
            rtol=1e-3,
            atol=1e-4,
        )


# ---------------------------------------------------------------------------- artifacts


def test_spark_build_writes_the_local_artifact_format(
    artifacts_root: Path, spark_manifest: dict[str, Any]
) -> None:
    local_manifest = artifacts.load(artifacts_root).manifest
    assert (local_manifest["engine"], spark_manifest["engine"]) == ("local", "spark")
    assert spark_manifest["spark"]["master"] == "local[2]"
    assert spark_manifest["spark"]["version"].startswith(("3.5", "4."))
    assert spark_manifest["format_version"] == local_manifest["format_version"]
    assert spark_manifest["arrays"].keys() == local_manifest["arrays"].keys()
    for name, (dtype, shape, _) in local_manifest["arrays"].items():
        # Spark's rules and ALS differ from the local ones (and so does the length of the
        # per-customer ALS lists, which keep every product tied with a list's last).
        if not name.startswith(("rules.", "als.", "candidates.cf.als.")):
            assert spark_manifest["arrays"][name][:2] == [dtype, shape], name
    assert spark_manifest["counts"] == local_manifest["counts"]
    assert spark_manifest["parameters"] == local_manifest["parameters"]
    assert {"spark_session", "rules", "als", "item_knn"} <= spark_manifest["timings"].keys()


async def test_the_server_serves_a_spark_build_unchanged(spark_root: Path) -> None:
    state = ServingState(spark_root)
    outcome = await state.reload(reason="test")
    loaded = state.current
    assert loaded is not None
    assert outcome.version == artifacts.current_version(spark_root)
    snapshot = loaded.snapshot
    by_als = recommend(snapshot, Request(user=0, cf_models=(("als", 1.0),), limit=10))
    assert len(by_als.items) == 10
    laptop = snapshot.catalogue.category_position("Laptops")
    assert laptop is not None
    in_cart = int(np.flatnonzero(snapshot.catalogue.category == laptop)[0])
    for_cart = recommend(snapshot, Request(context=Context(cart=(in_cart,)), limit=10))
    assert len(for_cart.items) == 10
    assert in_cart not in {item.position for item in for_cart.items}


# ---------------------------------------------------------------------------- tiny store


def test_evaluated_spark_build_of_the_tiny_store(session: SparkSession, tmp_path: Path) -> None:
    """The whole pipeline with evaluation, on the store whose rules are worked on paper."""
    steps: list[str] = []
    result = engine.build_artifacts_spark(
        tiny_store(),
        tmp_path,
        TINY_PARAMS,
        evaluate=True,
        on_step=lambda name, _: steps.append(name),
    )
    assert result.report is not None
    assert result.manifest["metrics"]
    assert {"validation", "evaluation", "rules", "als", "publish"} <= set(steps)
    snapshot = load_snapshot(tmp_path)
    table = rule_table(snapshot.product_rules)
    laptop, mouse, amp, headphones = snapshot.catalogue.index.positions(
        [LAPTOP, MOUSE, AMP, HEADPHONES]
    ).tolist()
    # tests/tiny_store.py: conf(laptop → mouse) = 2/3, lift 16/9; conf(amp → headphones) = 1,
    # lift 8/3.
    np.testing.assert_allclose(table[((laptop,), (mouse,))][1:3], [2 / 3, 16 / 9])
    np.testing.assert_allclose(table[((amp,), (headphones,))][1:3], [1.0, 8 / 3])


# ---------------------------------------------------------------------------- Java check


def fake_java(home: Path, version_line: str) -> dict[str, str]:
    """A JAVA_HOME whose bin/java prints ``version_line`` the way ``java -version`` does."""
    java = home / "bin" / "java"
    java.parent.mkdir(parents=True)
    java.write_text(f"#!/bin/sh\necho '{version_line}' >&2\n")
    java.chmod(0o755)
    return {"JAVA_HOME": str(home)}


@pytest.mark.parametrize(
    ("version_line", "problem"),
    [
        ('openjdk version "17.0.15" 2025-04-15', None),
        ('openjdk version "21" 2023-09-19', None),
        ('openjdk version "11.0.22" 2024-01-16', "Java 17+ is required, {java} is Java 11"),
        ('java version "1.8.0_392"', "Java 17+ is required, {java} is Java 8"),
        ("no version here", "Java 17+ is required (cannot read the version of {java})"),
    ],
)
def test_java_check_reads_the_version_like_pyspark_finds_java(
    tmp_path: Path, version_line: str, problem: str | None
) -> None:
    environ = fake_java(tmp_path, version_line)
    expected = None if problem is None else problem.format(java=tmp_path / "bin" / "java")
    assert engine.java_problem(environ) == expected


def test_java_check_names_the_fix_when_there_is_no_java(tmp_path: Path) -> None:
    assert engine.java_problem({"JAVA_HOME": str(tmp_path)}) == (
        "Java 17+ is required (no java found; run scripts/ensure_java.sh)"
    )
