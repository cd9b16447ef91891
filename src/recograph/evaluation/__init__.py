"""Offline evaluation: a temporal holdout of the order history and ranking metrics on it.

`split` cuts completed order lines in time and derives each customer's test targets and
segment; `metrics` turns ranked recommendations into precision, recall, NDCG, MAP, hit rate,
coverage and long-tail share. Both are pure functions over numpy/pandas, called by the build.
"""

from recograph.core.segments import SegmentThresholds, segment_of, segments
from recograph.core.vocabulary import Segment
from recograph.evaluation.metrics import (
    EvaluationResult,
    SegmentResult,
    average_precision_at_k,
    catalogue_coverage,
    evaluate_rankings,
    format_table,
    hit_rate_at_k,
    long_tail_share,
    metric_name,
    ndcg_at_k,
    popular_head,
    precision_at_k,
    recall_at_k,
    top_k,
)
from recograph.evaluation.split import (
    Split,
    choose_cutoff,
    customer_holdout,
    history_counts,
    item_holdout,
    temporal_split,
    test_targets,
    validation_split,
)

__all__ = [
    "EvaluationResult",
    "Segment",
    "SegmentResult",
    "SegmentThresholds",
    "Split",
    "average_precision_at_k",
    "catalogue_coverage",
    "choose_cutoff",
    "customer_holdout",
    "evaluate_rankings",
    "format_table",
    "history_counts",
    "hit_rate_at_k",
    "item_holdout",
    "long_tail_share",
    "metric_name",
    "ndcg_at_k",
    "popular_head",
    "precision_at_k",
    "recall_at_k",
    "segment_of",
    "segments",
    "temporal_split",
    "test_targets",
    "top_k",
    "validation_split",
]
