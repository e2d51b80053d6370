"""Make the assets the product needs available locally (idempotent; `make setup` runs it).

- DoodleNet's TF.js files: from the shared folder when it exists, else its public URL (or
  ``SKETCHREF_ASSET_MIRROR``), cached under ``.assets/``.
- ultralytics' offline configuration (settings file and font).
- The default local reference gallery, indexed from the shared photos when they exist.
"""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def main() -> int:
    from services.classifier.doodlenet import FILES
    from services.common.assets import asset_dir
    from services.detector.ultralytics_env import configure_ultralytics

    print("doodlenet:", asset_dir("models/doodlenet", FILES))
    configure_ultralytics()
    try:
        from services.recommender.gallery import ensure_default_gallery
    except ImportError:
        print("gallery: recommender not installed, skipped")
    else:
        print("gallery:", ensure_default_gallery())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
