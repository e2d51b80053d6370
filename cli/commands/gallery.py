"""``sketchref gallery add DIR [--labels FILE]`` and ``sketchref gallery list``: the local gallery.

``add`` copies the labelled images of DIR into storage (S3 in services mode, the local folder
embedded), makes thumbnails and updates the index (labels are mapped to Quick, Draw! words; see
``services/recommender/gallery_sources.py`` for how a folder says what its images show).
``add --default`` builds the default gallery from the shared photos if storage has none.
``list`` prints one line per label (how many images show it), or the images of ``--label L``.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    add = sub.add_parser("add", help="index a folder of labelled images")
    add.add_argument("dir", nargs="?", type=Path, help="folder (or one image) to add")
    add.add_argument("--labels", type=Path, help="JSON {path: [labels]} or CSV lines 'path,label[,label...]'")
    add.add_argument("--credit", default="", help="credit shown with these images (a folder named coco* or "
                     "open-images is credited per photo instead; see services/recommender/credits.py)")
    add.add_argument("--source-url", default="", help="the page these images come from")
    add.add_argument("--default", action="store_true", help="build the default gallery from the shared photos")
    ls = sub.add_parser("list", help="labels in the gallery (or the images of one label)")
    ls.add_argument("--label", help="list the images for this label, best first")
    ls.add_argument("--json", action="store_true", help="print JSON")


def run(args: argparse.Namespace) -> int:
    from services.recommender.gallery import LocalGallery, ensure_default_gallery

    gallery = LocalGallery(autobuild=False)
    if args.action == "add":
        if args.default:
            print(f"gallery: {ensure_default_gallery(gallery)} images")
            return 0
        if args.dir is None or not args.dir.exists():
            print(f"sketchref gallery add: no such folder: {args.dir}", file=sys.stderr)
            return 2
        if args.labels is not None and not args.labels.is_file():
            print(f"sketchref gallery add: no such labels file: {args.labels}", file=sys.stderr)
            return 2
        try:
            summary = gallery.add_folder(args.dir, args.labels, args.credit, args.source_url)
        except (ValueError, OSError) as exc:
            print(f"sketchref gallery add: {exc}", file=sys.stderr)
            return 2
        print(f"added {summary['added']}, already there {summary['unchanged']} (credit updated: "
              f"{summary['recredited']}), without a Quick, Draw! label "
              f"{summary['unlabelled']}, unreadable {summary['failed']}; gallery: {len(gallery.entries())} images")
        return 0
    if args.label:
        refs = gallery.recommend(args.label, n=1000)
        if args.json:
            print(json.dumps([r.model_dump() for r in refs], indent=2))
        else:
            for r in refs:
                print(f"{r.id}  {r.url}")
        return 0
    counts = Counter(w for e in gallery.entries() for w in e["labels"])
    if args.json:
        print(json.dumps({"images": len(gallery.entries()), "labels": dict(sorted(counts.items()))}, indent=2))
    else:
        print(f"{len(gallery.entries())} images, {len(counts)} labels")
        for word, k in sorted(counts.items(), key=lambda t: (-t[1], t[0])):
            print(f"{k:5d}  {word}")
    return 0
