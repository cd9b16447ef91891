"""Where a build runs: the local engine, or an optional one named in `OPTIONAL_ENGINES` and
imported only when asked for (Spark needs the ``spark`` extra and Java).

Above both `recograph.build` and the engines it can hand the heavy steps to, so the build never
imports an engine and an engine imports the build, not the other way round."""

from __future__ import annotations

import importlib
from pathlib import Path

from recograph.build import (
    DEFAULT_TUNE_BUDGET,
    BuildParams,
    BuildResult,
    StepCallback,
    build_artifacts,
)
from recograph.core.errors import RecographError
from recograph.dataset import StoreData
from recograph.progress import Progress, no_progress

# Engine name -> the module holding its ``build_artifacts_<name>``.
OPTIONAL_ENGINES = {"spark": "recograph.spark"}


class EngineUnavailable(RecographError, RuntimeError):
    """The Spark engine was asked for but pyspark (the ``spark`` extra) or Java is missing."""


def build_with_engine(
    data: StoreData,
    artifacts_root: Path | None,
    params: BuildParams,
    *,
    engine: str = "local",
    spark_master: str = "local[2]",
    evaluate: bool = True,
    tune: bool = False,
    tune_budget: float = DEFAULT_TUNE_BUDGET,
    on_step: StepCallback | None = None,
    progress: Progress = no_progress,
) -> BuildResult:
    """`build_artifacts` on the chosen engine; ``"spark"`` fits ALS and the rules on Spark
    (imported only then: it is an optional extra; it reports steps, not ``progress``, and
    searches within the default budget)."""
    if engine != "spark":
        return build_artifacts(
            data,
            artifacts_root,
            params,
            evaluate=evaluate,
            tune=tune,
            tune_budget=tune_budget,
            on_step=on_step,
            progress=progress,
        )
    try:
        spark = importlib.import_module(OPTIONAL_ENGINES["spark"])
    except ImportError as exc:
        raise EngineUnavailable(f"the Spark engine is unavailable: {exc}") from None
    result: BuildResult = spark.build_artifacts_spark(
        data,
        artifacts_root,
        params,
        evaluate=evaluate,
        tune=tune,
        on_step=on_step,
        master=spark_master,
    )
    return result
