# syntax=docker/dockerfile:1
# sketchref detector worker: Celery on queue `detect`, ultralytics YOLO. CUDA runtime base; the same
# image runs on CPU-only nodes (torch falls back to the CPU when no GPU is visible).
# Model: models/detector/ is baked in; SKETCHREF_DETECTOR_MODEL_URI=s3://…/models/detector/<version>/
# makes the worker download and serve that version instead (services/common/model_source.py).
# Build from the repository root:  docker build -f docker/detector.Dockerfile -t sketchref/detector .

ARG CUDA_IMAGE=nvidia/cuda:13.0.1-runtime-ubuntu24.04

FROM ${CUDA_IMAGE} AS base
ENV DEBIAN_FRONTEND=noninteractive
# python3 + venv; libgl1/libglib2.0-0 for OpenCV (an ultralytics dependency); DejaVu for its font check.
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 python3-venv libgl1 libglib2.0-0 fonts-dejavu-core \
 && rm -rf /var/lib/apt/lists/*

FROM base AS build
ARG TORCH_INDEX_URL=
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python3 -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
# torch first, in its own layer: it changes far less often than the code.
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
RUN pip install -c requirements/lock.txt ".[detector]"

FROM base AS runtime
LABEL org.opencontainers.image.title="sketchref-detector" \
      org.opencontainers.image.description="sketchref detector worker (queue detect, YOLO, GPU or CPU)"
RUN groupadd --system --gid 10001 sketchref \
 && useradd --system --uid 10001 --gid sketchref --home-dir /app --shell /usr/sbin/nologin sketchref \
 && mkdir -p /app/.config/Ultralytics /var/cache/sketchref/models \
 && ln -s /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf /app/.config/Ultralytics/Arial.ttf \
 && chown -R 10001:10001 /app /var/cache/sketchref
COPY --from=build /opt/venv /opt/venv
COPY --chown=10001:10001 models /app/models
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    NVIDIA_VISIBLE_DEVICES=all \
    NVIDIA_DRIVER_CAPABILITIES=compute,utility \
    YOLO_OFFLINE=1 \
    YOLO_AUTOINSTALL=false \
    YOLO_CONFIG_DIR=/app/.config \
    SKETCHREF_MODELS_DIR=/app/models \
    SKETCHREF_DETECTOR_MODEL_DIR=/app/models/detector \
    SKETCHREF_MODEL_CACHE_DIR=/var/cache/sketchref/models \
    SKETCHREF_LOCAL_STORAGE_DIR=/tmp/sketchref-storage
WORKDIR /app
USER 10001:10001
HEALTHCHECK --interval=30s --timeout=15s --start-period=60s --retries=3 \
  CMD ["python", "-m", "services.common.probe", "worker"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["sketchref"]
# threads, 8 at once: batches across jobs (docs/operators.md "Throughput"); the watchdog enforces time limits
CMD ["worker", "detector", "--pool", "threads", "--concurrency", "8"]
