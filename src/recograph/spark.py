"""The Spark engine of the build: ALS and FP-growth on Apache Spark, everything else local.

``recograph build --engine spark`` fits the same `ModelSnapshot` as the local build and
publishes the same artifacts. `fit_snapshot` still fits everything else (kNN, SVD, EASE,
content, popularity) on the driver; two fields come from Spark MLlib, fed with the completed
order lines and the interaction matrix shipped from the driver:

- ``als``: `pyspark.ml.recommendation.ALS` with implicit preferences (confidence
  ``1 + alpha · x``, as locally) gives the item factors. Spark weights its regularisation by
  each row's count (ALS-WR: ``regParam · n_u``) where ``implicit`` uses a constant, so the user
  factors are then recomputed from Spark's item factors with the constant ``regularization``
  the server folds new histories in with: a customer scores the same by position or by
  history, whichever engine built the snapshot.
- ``product_rules`` / ``category_rules``: `pyspark.ml.fpm.FPGrowth` over completed orders. Its
  rules (single-item consequents) are joined with the frequent itemsets' counts and then held
  to the thresholds and metric formulas of `recograph.recommenders.rules.mine_rules` on
  integer counts, so both engines publish identical rules for the same store.

Importing this module fails with ImportError when pyspark or Java 17+ is missing, which the
CLI reports as "the Spark engine is unavailable".
"""

from __future__ import annotations

import logging
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from recograph.build import (
    BuildParams,
    BuildResult,
    StepCallback,
    StepTimer,
    auto_factors,
    build_artifacts,
    fit_snapshot,
)
from recograph.core.errors import BuildError
from recograph.dataset import StoreData
from recograph.recommenders.als import ALSModel, confidence_matrix, fold_in_users
from recograph.recommenders.rules import RuleSet, ruleset_from_counts
from recograph.snapshot import BlendConfig, ModelSnapshot

MIN_JAVA = 17
DEFAULT_MASTER = "local[2]"
SPARK_STEPS = ("rules", "als")  # fit_snapshot steps whose result Spark replaces

logger = logging.getLogger(__name__)


def java_problem(environ: Mapping[str, str] | None = None) -> str | None:
    """Why Spark cannot start a JVM here (no ``java``, or older than 17), or None when it can.

    Looks where pyspark looks: ``$JAVA_HOME/bin/java``, else ``java`` on the PATH.
    """
    env = os.environ if environ is None else environ
    home = env.get("JAVA_HOME")
    java = str(Path(home) / "bin" / "java") if home else shutil.which("java")
    if java is None or not Path(java).is_file():
        return f"Java {MIN_JAVA}+ is required (no java found; run scripts/ensure_java.sh)"
    try:
        result = subprocess.run(
            [java, "-version"], capture_output=True, text=True, timeout=60, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"Java {MIN_JAVA}+ is required ({java} -version failed: {exc})"
    found = re.search(r'version "(\d+)(?:\.(\d+))?', result.stderr + result.stdout)
    if found is None:
        return f"Java {MIN_JAVA}+ is required (cannot read the version of {java})"
    major = int(found.group(1))
    if major == 1 and found.group(2):  # "1.8.0_392" is Java 8
        major = int(found.group(2))
    if major < MIN_JAVA:
        return f"Java {MIN_JAVA}+ is required, {java} is Java {major}"
    return None


_JAVA_PROBLEM = java_problem()
if _JAVA_PROBLEM is not None:
    raise ImportError(_JAVA_PROBLEM)

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    from pyspark.ml.fpm import FPGrowth
    from pyspark.ml.recommendation import ALS
    from pyspark.sql import DataFrame, Row, SparkSession
    from pyspark.sql import functions as sf

# Spark's own logging, quiet: warnings only, and not the routine start-up ones.
_LOG4J2 = """\
rootLogger.level = warn
rootLogger.appenderRef.stderr.ref = console
appender.console.type = Console
appender.console.name = console
appender.console.target = SYSTEM_ERR
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = %d{yy/MM/dd HH:mm:ss} %p %c{1}: %m%n%ex
logger.utils.name = org.apache.spark.util.Utils
logger.utils.level = error
logger.hadoop.name = org.apache.hadoop.util.NativeCodeLoader
logger.hadoop.level = error
"""
# ALS builds a long RDD lineage per iteration; deserialising its tasks needs a deep stack.
_JAVA_OPTIONS = "-Xss16m"


def is_local(master: str) -> bool:
    """``local``, ``local[2]``, ``local[*]``: driver and executors in one JVM on this machine."""
    return master == "local" or master.startswith("local[")


def session_conf(master: str, scratch: Path, java_options: str = "") -> dict[str, str]:
    """Spark settings for a build: no UI or progress bars, warnings-only logging, and for local
    mode a loopback driver and few shuffle partitions (the data is one machine's).

    ``java_options`` are added to the driver's and executors' JVM options.
    """
    log4j = scratch / "log4j2.properties"
    options = f"{_JAVA_OPTIONS} {java_options}".strip()
    conf = {
        "spark.app.name": "recograph-build",
        "spark.ui.enabled": "false",
        "spark.ui.showConsoleProgress": "false",
        "spark.driver.extraJavaOptions": f"{options} -Dlog4j2.configurationFile={log4j}",
        "spark.executor.extraJavaOptions": options,
    }
    if is_local(master):
        conf.update(
            {
                "spark.driver.host": "127.0.0.1",
                "spark.driver.bindAddress": "127.0.0.1",
                "spark.sql.shuffle.partitions": "4",
            }
        )
    return conf


class SparkStartError(BuildError):
    """Spark could not start (JVM, master unreachable, bad settings); the build did not run."""


def _start(builder: SparkSession.Builder, master: str) -> SparkSession:
    try:
        with warnings.catch_warnings():
            # pyspark 4 warns once that it does not fully support pandas 3; it is not used here.
            warnings.filterwarnings("ignore", "PySpark does not yet fully support pandas")
            return builder.getOrCreate()
    except Exception as exc:  # py4j and pyspark raise many types; all mean "no session"
        lines = [line.strip(" :") for line in str(exc).splitlines() if line.strip(" :")]
        reason = " ".join(lines[:2]) or type(exc).__name__
        raise SparkStartError(
            f"cannot start Spark on {master} ({reason}); Spark's log above says more"
        ) from exc


@contextmanager
def spark_session(
    master: str = DEFAULT_MASTER,
    conf: Mapping[str, str] | None = None,
    *,
    java_options: str = "",
) -> Iterator[SparkSession]:
    """A Spark session for the duration of the block, stopped afterwards.

    When a session is already running in this process (a test fixture, a notebook) it is
    used as it is and left running. ``conf`` adds or overrides settings of `session_conf`;
    ``java_options`` are extra JVM options (``-XX:TieredStopAtLevel=1`` starts short jobs
    faster).
    """
    active = SparkSession.getActiveSession()
    if active is not None:
        if active.sparkContext.master != master:
            logger.warning(
                "using the running Spark session (%s), not %s", active.sparkContext.master, master
            )
        yield active
        return
    with tempfile.TemporaryDirectory(prefix="recograph-spark-") as tmp:
        scratch = Path(tmp)
        (scratch / "log4j2.properties").write_text(_LOG4J2)
        builder = SparkSession.builder.master(master)
        settings = {**session_conf(master, scratch, java_options), **dict(conf or {})}
        for key, value in settings.items():
            builder = builder.config(key, value)
        logging.getLogger("py4j").setLevel(logging.WARNING)  # one INFO line per connection
        started = time.perf_counter()
        session = _start(builder, master)
        session.sparkContext.setLogLevel("WARN")
        if is_local(master):
            # Python workers (they turn shipped rows into Spark rows) run this interpreter, not
            # whichever "python3" is first on the PATH, unless PYSPARK_PYTHON says otherwise.
            if "PYSPARK_PYTHON" not in os.environ:
                session.sparkContext.pythonExec = sys.executable
            # Checkpoints cut ALS's lineage every 10 iterations; on a cluster they would need
            # shared storage, so there only the deeper stack above guards it.
            session.sparkContext.setCheckpointDir(str(scratch / "checkpoints"))
        logger.info(
            "Spark %s started on %s in %.1f s",
            session.version,
            master,
            time.perf_counter() - started,
        )
        try:
            yield session
        finally:
            session.stop()


# ---------------------------------------------------------------------------- rules


def _min_count(min_support: float, n_baskets: int) -> int:
    """The basket count an itemset needs, exactly as `mine_rules` rounds it."""
    if not 0.0 < min_support <= 1.0:
        raise ValueError(f"min_support must be in (0, 1], got {min_support}")
    return max(1, math.ceil(min_support * n_baskets - 1e-9))


def _empty_rules(n_baskets: int, n_items: int) -> RuleSet:
    return ruleset_from_counts([], [], [], [], [], n_baskets, n_items)


SHIP_CHUNK_ROWS = 16_384  # rows per shipped task: under 1 MB (Spark warns above) for 3 columns


def _column_text(values: npt.NDArray[Any]) -> str:
    """Numbers as space-separated text (``str`` of a float round-trips exactly)."""
    return " ".join(map(str, values.tolist()))


@contextmanager
def _shipped(
    session: SparkSession, columns: Mapping[str, tuple[npt.NDArray[Any], str]]
) -> Iterator[DataFrame]:
    """Equal-length numpy columns (name -> (values, Spark SQL type)) shipped from the driver
    as a cached Spark DataFrame, for the duration of the block.

    Each chunk of rows travels as one text per column, split into rows by Spark SQL: the
    driver and the Python workers handle a few strings instead of a Python object per row
    (less driver memory; 20% faster than shipping tuples, 3.6 s vs 4.5 s for 131,072 rows on
    the 2-core machine) and tasks stay small. Materialised at once: the Python workers then
    run to the end, where a job reading only the first rows (as ALS does) would cut them off
    mid-write.
    """
    arrays = [np.asarray(values) for values, _ in columns.values()]
    n_rows = len(arrays[0])
    if any(len(a) != n_rows for a in arrays):
        raise ValueError("shipped columns must have equal lengths")
    chunks = [
        tuple(_column_text(a[start : start + SHIP_CHUNK_ROWS]) for a in arrays)
        for start in range(0, n_rows, SHIP_CHUNK_ROWS)
    ]
    text = session.createDataFrame(
        session.sparkContext.parallelize(chunks, max(1, len(chunks))),
        ", ".join(f"{name} string" for name in columns),
    )
    split = [
        sf.split(name, " ").cast(f"array<{kind}>").alias(name)
        for name, (_, kind) in columns.items()
    ]
    frame = text.select(sf.inline(sf.arrays_zip(*split))).toDF(*columns).cache()
    try:
        frame.count()
        yield frame
    finally:
        frame.unpersist()


def _rule_counts(
    baskets: DataFrame, n_baskets: int, min_count: int, min_confidence: float, max_len: int | None
) -> list[Row]:
    """FPGrowth's rules with single consequents, as rows (ante, cons, n_ac, n_a, n_c): sorted
    antecedent positions, consequent position and the basket counts of union and sides."""
    model = FPGrowth(
        itemsCol="items",
        minSupport=(min_count - 0.5) / n_baskets,
        # A hair below: the exact test on integer counts comes afterwards.
        minConfidence=max(min_confidence - 1e-9, 0.0),
    ).fit(baskets)
    # Cached: the rules are derived from the itemsets, and their counts are joined back.
    frequent = model.freqItemsets.cache()
    try:
        itemsets = frequent.select(sf.array_sort("items").alias("key"), "freq")
        rules = model.associationRules.select(
            sf.array_sort("antecedent").alias("ante"), sf.col("consequent")[0].alias("cons")
        )
        if max_len is not None:
            rules = rules.where(sf.size("ante") + 1 <= max_len)
        rules = rules.withColumn("union", sf.array_sort(sf.concat("ante", sf.array("cons"))))
        singles = itemsets.where(sf.size("key") == 1).select(
            sf.col("key")[0].alias("cons"), sf.col("freq").alias("n_c")
        )
        return (
            rules.join(itemsets.toDF("ante", "n_a"), "ante")
            .join(itemsets.toDF("union", "n_ac"), "union")
            .join(singles, "cons")
            .select("ante", "cons", "n_ac", "n_a", "n_c")
            .collect()
        )
    finally:
        frequent.unpersist()


@dataclass(frozen=True)
class RuleLevel:
    """One kind of item to mine rules over from the same baskets (products, categories):
    each (basket, item) pair's position, the number of positions, and the thresholds."""

    positions: npt.NDArray[np.int64]
    n_items: int
    min_support: float
    min_confidence: float


def mine_rule_levels(
    session: SparkSession,
    basket_ids: npt.ArrayLike,
    levels: Mapping[str, RuleLevel],
    *,
    min_lift: float = 0.0,
    max_len: int | None = None,
) -> dict[str, RuleSet]:
    """`mine_rules_spark` for several levels of the same baskets, shipped to Spark once."""
    basket_ids = np.asarray(basket_ids, np.int64)
    n_baskets = len(np.unique(basket_ids))
    if n_baskets == 0 or (max_len is not None and max_len < 2):
        return {name: _empty_rules(n_baskets, level.n_items) for name, level in levels.items()}
    columns: dict[str, tuple[npt.NDArray[Any], str]] = {"basket": (basket_ids, "bigint")}
    for i, level in enumerate(levels.values()):
        columns[f"level{i}"] = (level.positions, "int")
    mined: dict[str, RuleSet] = {}
    with _shipped(session, columns) as pairs:
        for i, (name, level) in enumerate(levels.items()):
            # Not cached: FPGrowth persists its own copy of the baskets when the input is not.
            baskets = pairs.groupBy("basket").agg(sf.collect_set(f"level{i}").alias("items"))
            min_count = _min_count(level.min_support, n_baskets)
            found = _rule_counts(baskets, n_baskets, min_count, level.min_confidence, max_len)
            mined[name] = ruleset_from_counts(
                [tuple(row["ante"]) for row in found],
                [(int(row["cons"]),) for row in found],
                [int(row["n_ac"]) for row in found],
                [int(row["n_a"]) for row in found],
                [int(row["n_c"]) for row in found],
                n_baskets,
                level.n_items,
                min_confidence=level.min_confidence,
                min_lift=min_lift,
            )
    return mined


def mine_rules_spark(
    session: SparkSession,
    basket_ids: npt.ArrayLike,
    positions: npt.ArrayLike,
    n_items: int,
    *,
    min_support: float,
    min_confidence: float,
    min_lift: float = 0.0,
    max_len: int | None = None,
) -> RuleSet:
    """`mine_rules` (with ``min_len=2``, single consequents) run on Spark's FPGrowth.

    ``basket_ids`` / ``positions`` are (order, item position) pairs, repeats allowed. FPGrowth
    has no length bound, so longer itemsets are mined and dropped; its ``minSupport`` is set
    half a basket below the integer threshold so it keeps exactly the itemsets with
    ``count >= ceil(min_support · n_baskets)``.
    """
    level = RuleLevel(np.asarray(positions, np.int64), n_items, min_support, min_confidence)
    return mine_rule_levels(
        session, basket_ids, {"items": level}, min_lift=min_lift, max_len=max_len
    )["items"]


# ---------------------------------------------------------------------------- ALS


def user_factors_for(
    item_factors: npt.NDArray[np.float32],
    matrix: sp.csr_matrix,
    regularization: float,
    alpha: float,
) -> npt.NDArray[np.float32]:
    """Every customer's least-squares vector against fixed item factors (the fold-in the
    server uses, batched with ``implicit``'s exact solver, as the local fit does)."""
    return fold_in_users(item_factors, confidence_matrix(matrix, alpha), regularization)


def fit_als_spark(
    session: SparkSession,
    matrix: sp.csr_matrix,
    *,
    factors: int,
    regularization: float = 0.05,
    iterations: int = 15,
    alpha: float = 1.0,
    seed: int = 0,
) -> ALSModel:
    """Implicit-feedback ALS of the customers × products ``matrix`` on Spark.

    Spark's ``regParam`` is ``regularization`` (scaled per row by Spark, see the module
    docstring); the item factors are Spark's, the user factors `user_factors_for` them.
    Products nobody bought keep zero factors, as in the local fit.
    """
    n_items = matrix.shape[1]
    coo = sp.coo_matrix(matrix)
    positive = coo.data > 0
    item_factors = np.zeros((n_items, factors), dtype=np.float32)
    if positive.any():
        columns = {
            "user": (coo.row[positive], "int"),
            "item": (coo.col[positive], "int"),
            "rating": (coo.data[positive].astype(np.float64), "float"),
        }
        blocks = max(1, session.sparkContext.defaultParallelism)
        als = ALS(
            rank=factors,
            maxIter=iterations,
            regParam=regularization,
            implicitPrefs=True,
            alpha=alpha,
            seed=seed,
            userCol="user",
            itemCol="item",
            ratingCol="rating",
            numUserBlocks=blocks,
            numItemBlocks=blocks,
        )
        with _shipped(session, columns) as ratings:
            rows = als.fit(ratings).itemFactors.collect()
        for row in rows:
            item_factors[row["id"]] = row["features"]
    return ALSModel(
        user_factors=user_factors_for(item_factors, matrix, regularization, alpha),
        item_factors=item_factors,
        regularization=regularization,
        alpha=alpha,
    )


# ---------------------------------------------------------------------------- snapshot


def _without_spark_steps(params: BuildParams) -> BuildParams:
    """Parameters under which `fit_snapshot`'s own rules and ALS cost next to nothing (no
    itemset longer than one, one factor, no iteration): Spark's results replace them."""
    return replace(params, rule_max_len=1, als_factors=1, als_iterations=0)


def _forward_local_steps(timer: StepTimer) -> StepTimer:
    """A timer for `fit_snapshot` that reports its steps through ``timer``, except those
    Spark replaces (timed separately under the same names)."""

    def forward(name: str, seconds: float) -> None:
        if name in SPARK_STEPS:
            return
        timer.timings[name] = timer.timings.get(name, 0.0) + seconds
        if timer.on_step is not None:
            timer.on_step(name, seconds)

    return StepTimer(on_step=forward)


def fit_snapshot_spark(
    session: SparkSession,
    data: StoreData,
    params: BuildParams,
    blend: BlendConfig | None = None,
    *,
    version: str = "unpublished",
    timer: StepTimer | None = None,
) -> ModelSnapshot:
    """`fit_snapshot` with ALS and the association rules fitted on Spark."""
    timer = timer or StepTimer()
    local = fit_snapshot(
        data,
        _without_spark_steps(params),
        blend,
        version=version,
        timer=_forward_local_steps(timer),
    )
    catalogue = local.catalogue
    lines = data.completed_lines()
    items = catalogue.index.positions(lines["product_id"].to_numpy())
    known = items >= 0
    order_ids, items = lines["order_id"].to_numpy()[known], items[known]
    with timer.step("rules"):
        n_baskets = len(np.unique(order_ids))
        product_support = max(
            params.product_min_support, params.product_min_count / max(n_baskets, 1)
        )
        category_support = max(params.category_min_support, 1 / max(n_baskets, 1))
        levels = {
            "product": RuleLevel(
                items,
                len(catalogue),
                min(product_support, 1.0),
                params.product_min_confidence,
            ),
            "category": RuleLevel(
                catalogue.category[items].astype(np.int64),
                catalogue.n_categories,
                min(category_support, 1.0),
                params.category_min_confidence,
            ),
        }
        rules = mine_rule_levels(
            session, order_ids, levels, min_lift=params.min_lift, max_len=params.rule_max_len
        )
    with timer.step("als"):
        als = fit_als_spark(
            session,
            local.interactions,
            factors=params.als_factors or auto_factors(*local.interactions.shape),
            regularization=params.als_regularization,
            iterations=params.als_iterations,
            alpha=params.als_alpha,
            seed=params.seed,
        )
    # The local fit's rule_mining describes its placeholder (max_len 1) mining, not Spark's,
    # which applies no itemset cap: drop it rather than publish a wrong account.
    manifest = {k: v for k, v in local.manifest.items() if k != "rule_mining"}
    return replace(
        local,
        manifest=manifest,
        cf={**local.cf, "als": als},
        product_rules=rules["product"],
        category_rules=rules["category"],
    )


# ---------------------------------------------------------------------------- build


def build_artifacts_spark(
    data: StoreData,
    artifacts_root: Path | None,
    params: BuildParams | None = None,
    *,
    evaluate: bool = True,
    tune: bool = False,
    on_step: StepCallback | None = None,
    master: str = DEFAULT_MASTER,
    conf: Mapping[str, str] | None = None,
) -> BuildResult:
    """`build_artifacts` with the Spark engine: same steps, same artifact format; the manifest
    records ``engine: "spark"`` and the Spark version and master."""
    timer = StepTimer(on_step)
    with ExitStack() as stack:
        with timer.step("spark_session"):
            session = stack.enter_context(spark_session(master, conf))
        spark_info = {"version": session.version, "master": session.sparkContext.master}
        return build_artifacts(
            data,
            artifacts_root,
            params,
            evaluate=evaluate,
            tune=tune,
            engine="spark",
            extra_manifest={"spark": spark_info},
            fit=partial(fit_snapshot_spark, session),
            timer=timer,
        )


__all__ = [
    "DEFAULT_MASTER",
    "RuleLevel",
    "SparkStartError",
    "build_artifacts_spark",
    "fit_als_spark",
    "fit_snapshot_spark",
    "java_problem",
    "mine_rule_levels",
    "mine_rules_spark",
    "session_conf",
    "spark_session",
    "user_factors_for",
]
