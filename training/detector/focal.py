"""Focal loss on the YOLO class head, plugged in through ultralytics' own extension points.

Lin et al., "Focal Loss for Dense Object Detection" (RetinaNet, 2017), per class logit ``x`` and
(soft) target ``t`` in [0, 1]::

    p    = sigmoid(x)
    p_t  = t * p + (1 - t) * (1 - p)
    a_t  = t * alpha + (1 - t) * (1 - alpha)        (1 when alpha is None)
    FL   = -a_t * (1 - p_t) ** gamma * [t log p + (1 - t) log(1 - p)]

With ``gamma = 0`` and ``alpha = None`` this is exactly the binary cross-entropy ultralytics uses.
The targets on the class head are the task-aligned assigner's soft scores, hence the soft ``p_t``.

How it is plugged in, by subclassing only (ultralytics is never patched):

- :class:`FocalDetectionLoss` subclasses ``v8DetectionLoss`` and replaces its element-wise ``bce``
  with :class:`FocalLoss` (same call, same shape, same normalisation by the sum of target scores);
- :class:`FocalDetectionModel` subclasses ``DetectionModel`` and returns that criterion from
  ``init_criterion`` (wrapped in ``E2ELoss`` for end-to-end heads, as the parent does);
- :class:`FocalDetectionTrainer` subclasses ``DetectionTrainer`` and builds that model in
  ``get_model``. ``FocalDetectionTrainer.configured(gamma, alpha)`` gives a trainer class with other
  settings (ultralytics instantiates the trainer class itself, so the settings ride on the class).

Checkpoints pickle the model class, so loading a focal-trained ``best.pt`` needs this module importable
(it is, everywhere the repository is installed).
"""

from __future__ import annotations

from functools import partial

import torch
import torch.nn.functional as F
from torch import nn
from ultralytics.models.yolo.detect import DetectionTrainer
from ultralytics.nn.tasks import DetectionModel
from ultralytics.utils import RANK
from ultralytics.utils.loss import E2ELoss, v8DetectionLoss


class FocalLoss(nn.Module):
    """Element-wise sigmoid focal loss on logits, ``reduction='none'`` (a drop-in for
    ``nn.BCEWithLogitsLoss(reduction='none')``). See the module docstring for the formula."""

    def __init__(self, gamma: float = 1.5, alpha: float | None = 0.25):
        super().__init__()
        if gamma < 0:
            raise ValueError("gamma must be >= 0")
        if alpha is not None and not 0.0 <= alpha <= 1.0:
            raise ValueError("alpha must be in [0, 1] or None")
        self.gamma, self.alpha = float(gamma), alpha

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        ce = F.binary_cross_entropy_with_logits(logits, target, reduction="none")
        if self.gamma:
            p = logits.sigmoid()
            p_t = target * p + (1 - target) * (1 - p)
            ce = ce * (1 - p_t).clamp(min=0).pow(self.gamma)
        if self.alpha is not None:
            ce = ce * (target * self.alpha + (1 - target) * (1 - self.alpha))
        return ce

    def extra_repr(self) -> str:
        return f"gamma={self.gamma}, alpha={self.alpha}"


class FocalDetectionLoss(v8DetectionLoss):
    """``v8DetectionLoss`` with the focal loss on the class head; box and DFL losses unchanged."""

    def __init__(self, model: nn.Module, tal_topk: int = 10, tal_topk2: int | None = None, *,
                 gamma: float = 1.5, alpha: float | None = 0.25):
        super().__init__(model, tal_topk, tal_topk2)
        self.bce = FocalLoss(gamma, alpha)


class FocalDetectionModel(DetectionModel):
    """``DetectionModel`` whose criterion is :class:`FocalDetectionLoss`."""

    def __init__(self, cfg="yolov8n.yaml", ch: int = 3, nc: int | None = None, verbose: bool = True, *,
                 focal_gamma: float = 1.5, focal_alpha: float | None = 0.25):
        self.focal_gamma, self.focal_alpha = focal_gamma, focal_alpha
        super().__init__(cfg, ch=ch, nc=nc, verbose=verbose)

    def init_criterion(self):
        loss_fn = partial(FocalDetectionLoss, gamma=self.focal_gamma, alpha=self.focal_alpha)
        if getattr(self.model[-1], "one2one_cv2", None) is not None:
            return E2ELoss(self, loss_fn)
        return loss_fn(self)


class FocalDetectionTrainer(DetectionTrainer):
    """``DetectionTrainer`` that trains a :class:`FocalDetectionModel`."""

    focal_gamma: float = 1.5
    focal_alpha: float | None = 0.25

    @classmethod
    def configured(cls, gamma: float, alpha: float | None) -> type[FocalDetectionTrainer]:
        """A trainer class with these focal settings (pass it as ``YOLO.train(trainer=...)``)."""
        return type(cls.__name__, (cls,), {"focal_gamma": float(gamma), "focal_alpha": alpha,
                                            "__module__": cls.__module__})

    def get_model(self, cfg=None, weights=None, verbose: bool = True):
        model = FocalDetectionModel(cfg, ch=self.data["channels"], nc=self.data["nc"], verbose=verbose and RANK == -1,
                                    focal_gamma=self.focal_gamma, focal_alpha=self.focal_alpha)
        model = self.set_model_names_for_load(model)
        if weights:
            model.load(weights)
        return model
