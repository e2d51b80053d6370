"""The recommender worker: consumes queue ``recommend``; adds references and finishes the job.

``sketchref worker recommender`` runs it: job id in, :func:`pipeline.recommend` for the labelled
objects of the job record, ranking photos against crops of the clean working image (the detector's,
inline in the message: the image the in-process pipeline uses), references into the record, status
``succeeded``. Then, with the client already answered and before the message is acknowledged, it
stores the crops of the objects, cut from the original upload (:mod:`services.common.crops`); a
redelivered task stores the ones a crash left out.
"""

from __future__ import annotations

from services.common.crops import crop_keys, missing_crops, store_crops
from services.common.worker import Context, load_clean, load_gray, register_stage
from services.core import pipeline

from .providers import provider_name
from .settings import get_recommender_settings

# load_clean and load_gray read the message's inline payload when it came (services/common/inline.py)

ctx = Context(kind="recommender", default_loader="services.recommender.providers:load_recommender",
              settings=get_recommender_settings, describe_model=lambda: provider_name(get_recommender_settings()))


def compute(ctx: Context, rec):
    clean = load_clean(ctx, rec)
    # on the model thread, like the other stages' model calls (the crop embedder; see Context)
    objects = ctx.on_model_thread(pipeline.recommend, rec.objects, ctx.model(), rec.references, clean)
    keys = crop_keys(rec.id, len(objects))
    items = list(zip(keys, [o.box for o in objects], strict=True))
    # the original is decoded for the stored crops only once the client has its answer
    return objects, keys, (lambda: store_crops(ctx.storage(), load_gray(ctx, rec), items)) if items else None


def restore_missing_crops(ctx: Context, rec) -> None:
    """On a redelivery after the job succeeded: store the crops a crash left out."""
    missing = missing_crops(ctx.storage(), rec.id, [o.box for o in rec.objects])
    if missing:
        store_crops(ctx.storage(), load_gray(ctx, rec), missing)


def register(app):
    return register_stage(app, ctx, "recommend", compute, on_redelivery=restore_missing_crops)
