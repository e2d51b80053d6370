"""Make ultralytics work with no network (DESIGN.md §7). Call before importing ultralytics."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from services.common.settings import ROOT


def configure_ultralytics() -> None:
    os.environ.setdefault("YOLO_OFFLINE", "1")
    os.environ.setdefault("YOLO_AUTOINSTALL", "false")
    os.environ.setdefault("YOLO_VERBOSE", "false")
    cfg = Path(os.environ.setdefault("YOLO_CONFIG_DIR", str(ROOT / ".cache" / "ultralytics")))
    font = cfg / "Ultralytics" / "Arial.ttf"
    if not font.exists():
        import matplotlib

        src = Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "DejaVuSans.ttf"
        font.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(src, font)
    from ultralytics.utils import SETTINGS

    if SETTINGS.get("sync", True):
        SETTINGS.update(sync=False)
