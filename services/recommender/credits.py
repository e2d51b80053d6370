"""Credits of the local gallery's photos: per photo, the most specific credit its source gives.

A :class:`Credit` names the set the photo comes from and, where the source says so, its author (and
their page), its licence (and the licence's page) and the photo's own page (``source_url``): never
only a data set's home page. Sources, by the name of the folder they were added from
(:data:`CREDITORS`):

- ``coco128`` (any COCO 2017 photos, files named by their image id, ``000000000370.jpg``): the
  photo's COCO explore page (``https://cocodataset.org/#explore?id=370``), which shows it with its
  Flickr link and licence. When the folder holds COCO's own annotation file (an ``instances_*.json``,
  ``captions_*.json`` or ``image_info_*.json`` with ``images`` and ``licenses``), the photo's licence
  (name and page) comes from it. COCO names no authors. Folders named ``coco…`` are taken as COCO.
- ``open-images`` (the Open Images test photos of google-coral/test_data): the file's page in that
  repository at the commit the shared folder was taken from; Apache-2.0, as the repository states.
- any other folder: what ``sketchref gallery add --credit TEXT --source-url URL`` gave, for every
  photo of the folder (the person adding it knows its source; nothing is invented here).
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

log = logging.getLogger(__name__)

COCO_EXPLORE = "https://cocodataset.org/#explore?id={id}"
CORAL_FILE = "https://github.com/google-coral/test_data/blob/104342d2/{name}"
APACHE = ("Apache-2.0", "https://www.apache.org/licenses/LICENSE-2.0")
_COCO_FILE = re.compile(r"^(?:COCO_[a-z]+\d{4}_)?(\d{6,12})$")  # 000000000370 / COCO_val2014_000000000370
_COCO_ANNOTATIONS = ("instances_*.json", "captions_*.json", "image_info_*.json")


@dataclass(frozen=True)
class Credit:
    collection: str = ""  # the set the photo belongs to ("COCO 2017")
    title: str = ""  # the photo within it ("COCO image 370"), or ""
    author: str = ""  # "" when the source names none
    author_url: str = ""
    license: str = ""  # "" when unknown
    license_url: str = ""
    source_url: str = ""  # the photo's own page, or what the person adding the folder gave

    def as_dict(self) -> dict[str, str]:
        return {k: v for k, v in asdict(self).items() if v}


Creditor = Callable[[Path], Credit]  # a photo's path -> its credit


def folder_credit(text: str, url: str) -> Creditor:
    """The same credit for every photo (``gallery add --credit TEXT --source-url URL``)."""
    credit = Credit(collection=text, source_url=url)
    return lambda _path: credit


def coco_image_id(path: Path) -> int | None:
    m = _COCO_FILE.match(path.stem)
    return int(m.group(1)) if m else None


def _coco_annotations(root: Path) -> tuple[dict[int, dict], dict[int, dict]]:
    """``{image id: image record}`` and ``{licence id: licence}`` from COCO annotation files found
    under ``root`` (none: two empty dicts)."""
    images: dict[int, dict] = {}
    licenses: dict[int, dict] = {}
    for pattern in _COCO_ANNOTATIONS:
        for f in sorted(root.rglob(pattern)):
            try:
                data = json.loads(f.read_text())
                licenses.update({int(lic["id"]): lic for lic in data.get("licenses", [])})
                images.update({int(im["id"]): im for im in data.get("images", [])})
            except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
                log.warning("gallery: COCO annotations %s unreadable (%s)", f.name, type(exc).__name__)
    return images, licenses


def coco_credits(root: Path) -> Creditor:
    images, licenses = _coco_annotations(root)

    def credit(path: Path) -> Credit:
        image_id = coco_image_id(path)
        if image_id is None:
            return Credit(collection="COCO 2017")
        record = images.get(image_id, {})
        lic = licenses.get(record.get("license", -1), {})
        return Credit(collection="COCO 2017", title=f"COCO image {image_id}",
                      license=lic.get("name", ""), license_url=lic.get("url", ""),
                      source_url=COCO_EXPLORE.format(id=image_id))

    return credit


def coral_credits(root: Path) -> Creditor:
    def credit(path: Path) -> Credit:
        return Credit(collection="Open Images (google-coral/test_data)", title=path.name,
                      license=APACHE[0], license_url=APACHE[1],
                      source_url=CORAL_FILE.format(name=path.relative_to(root).as_posix()))

    return credit


# Credits of the shared photo sets, by sub-folder of the default gallery source.
CREDITORS: dict[str, Callable[[Path], Creditor]] = {"coco128": coco_credits, "open-images": coral_credits}


def creditor_for(root: Path, text: str = "", url: str = "") -> Creditor:
    """How the photos under ``root`` are credited: a known source by its folder name, else the
    person's ``text``/``url`` for every photo."""
    name = Path(root).name.lower()
    make = CREDITORS.get(name) or (coco_credits if name.startswith("coco") else None)
    return make(Path(root)) if make is not None else folder_credit(text, url)
