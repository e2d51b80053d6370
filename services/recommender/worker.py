"""The recommender worker: consumes queue ``recommend``; adds references and finishes the job.

``sketchref worker recommender`` runs it: job id in, :func:`pipeline.recommend` for the labelled
objects of the job record, references into the record, status ``succeeded``.
"""

from __future__ import annotations

from services.common import pipeline
from services.common.worker import Context, load_gray, register_stage

ctx = Context(kind="recommender", default_loader="services.recommender.providers:load_recommender")


def compute(ctx: Context, rec):
    gray = load_gray(ctx, rec)
    return pipeline.recommend(rec.objects, ctx.model(), rec.references, gray), None


def register(app):
    return register_stage(app, ctx, "recommend", compute)
