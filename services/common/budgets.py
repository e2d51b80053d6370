"""Latency budgets of the stages: the p95 above which the ``SketchrefStageP95OverBudget`` alert fires.

Env ``SKETCHREF_BUDGET_<STAGE>_P95_S``. The defaults are ~5–10× the in-process medians of ``make bench``
on this project's 2-core CPU (detect 45 ms, classify 20 ms, recommend 9 ms with a warm cache; an
Unsplash miss adds a few hundred ms): generous enough not to page on a busy node, tight enough to
catch a GPU pod that fell back to CPU or a throttled one. Set yours from your own dashboards' p95.
``python scripts/monitoring.py write`` writes them into the alert rules (k8s/monitoring/).
"""

from __future__ import annotations

from pydantic_settings import BaseSettings, SettingsConfigDict


class StageBudgets(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SKETCHREF_BUDGET_", extra="ignore")

    detect_p95_s: float = 0.5
    classify_p95_s: float = 0.25
    recommend_p95_s: float = 1.0
    # job failure rate (failed / finished over 10 min) above which SketchrefJobFailureRate fires
    failure_rate: float = 0.02

    def p95(self) -> dict[str, float]:
        return {"detect": self.detect_p95_s, "classify": self.classify_p95_s, "recommend": self.recommend_p95_s}
