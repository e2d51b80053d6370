#!/usr/bin/env bash
# Every recognition figure of issue 14, in the order the README table lists them (test split; nice).
# Usage: scripts/eval_recognition_all.sh [SCENES]   (default 150 scenes per style)
set -euo pipefail
n=${1:-150}
for style in clean dark colour photo touching overlap strays thin; do
  nice -n 10 .venv/bin/python -m cli eval recognition scenes --style "$style" --scenes "$n"
done
nice -n 10 .venv/bin/python -m cli eval recognition nonsense --scenes "$n"
nice -n 10 .venv/bin/python -m cli eval recognition single
