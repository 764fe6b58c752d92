"""Offline evaluation: splits, ranking metrics, model comparison and an HTML report."""

from vcsmatch.evaluation.evaluate import (
    BASELINE_NAMES,
    EvaluationResult,
    ModelScores,
    default_baselines,
    evaluate,
    people_from_frame,
)
from vcsmatch.evaluation.metrics import (
    catalogue_coverage,
    dcg_at_k,
    gain,
    largest_gap,
    ndcg_at_k,
    new_service_share,
    recall_at_k,
)
from vcsmatch.evaluation.report import write_html_report
from vcsmatch.evaluation.splits import split_by_person, split_by_time

__all__ = [
    "BASELINE_NAMES",
    "EvaluationResult",
    "ModelScores",
    "catalogue_coverage",
    "dcg_at_k",
    "default_baselines",
    "evaluate",
    "gain",
    "largest_gap",
    "ndcg_at_k",
    "new_service_share",
    "people_from_frame",
    "recall_at_k",
    "split_by_person",
    "split_by_time",
    "write_html_report",
]
