#!/bin/sh
# Train one model kind, then publish the folder it wrote as a new version on S3.
#   train-and-publish.sh detector|classifier [extra `sketchref train` arguments...]
# Environment: SKETCHREF_MODEL_PUBLISH_URI (s3://bucket/models/<kind>/<version>/; unset: keep the
# result in $SKETCHREF_MODELS_DIR only), plus the usual SKETCHREF_S3_* settings.
set -eu
kind="${1:?usage: train-and-publish.sh detector|classifier [args...]}"
shift
case "$kind" in detector|classifier) ;; *) echo "unknown model kind: $kind" >&2; exit 2 ;; esac
out="${SKETCHREF_MODELS_DIR:-/work/out}"
mkdir -p "$out"
if [ -n "${SKETCHREF_MODEL_PUBLISH_URI:-}" ]; then
  python -m services.common.model_source check-new "$SKETCHREF_MODEL_PUBLISH_URI"
fi
sketchref train "$kind" "$@"
if [ -n "${SKETCHREF_MODEL_PUBLISH_URI:-}" ]; then
  python -m services.common.model_source publish "$out/$kind" "$SKETCHREF_MODEL_PUBLISH_URI"
else
  echo "SKETCHREF_MODEL_PUBLISH_URI is unset: the model stays in $out/$kind"
fi
