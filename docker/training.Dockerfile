# syntax=docker/dockerfile:1
# sketchref training: `sketchref train detector|classifier`, then publish the result as a new,
# immutable version under an s3:// prefix (python -m services.common.model_source publish).
# Runs the Kubernetes training Jobs and the compose `training` profile. CUDA base, CPU works too.
# Data: Quick, Draw! files come from SKETCHREF_SHARED_DIR (a mounted volume) or their public URLs.
# Build from the repository root:  docker build -f docker/training.Dockerfile -t sketchref/training .

ARG CUDA_IMAGE=nvidia/cuda:13.0.1-runtime-ubuntu24.04

FROM ${CUDA_IMAGE} AS base
ENV DEBIAN_FRONTEND=noninteractive
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 python3-venv libgl1 libglib2.0-0 fonts-dejavu-core ca-certificates \
 && rm -rf /var/lib/apt/lists/*

FROM base AS build
ARG TORCH_INDEX_URL=
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
RUN pip install -c requirements/lock.txt ".[training]"

FROM base AS runtime
LABEL org.opencontainers.image.title="sketchref-training" \
      org.opencontainers.image.description="sketchref training pipelines (detector, classifier)"
RUN groupadd --system --gid 10001 sketchref \
 && useradd --system --uid 10001 --gid sketchref --home-dir /app --shell /usr/sbin/nologin sketchref \
 && mkdir -p /app/.config/Ultralytics /work/out \
 && ln -s /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf /app/.config/Ultralytics/Arial.ttf \
 && chown -R 10001:10001 /app /work
COPY --from=build /opt/venv /opt/venv
COPY --chown=10001:10001 models /app/models
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    NVIDIA_VISIBLE_DEVICES=all \
    NVIDIA_DRIVER_CAPABILITIES=compute,utility \
    YOLO_OFFLINE=1 \
    YOLO_AUTOINSTALL=false \
    YOLO_CONFIG_DIR=/app/.config \
    HF_HUB_OFFLINE=1 \
    HF_HOME=/tmp/hf \
    SKETCHREF_ASSETS_DIR=/app/.assets \
    SKETCHREF_MODELS_DIR=/work/out
WORKDIR /app
USER 10001:10001
# A batch job: healthy while its process runs.
HEALTHCHECK NONE
COPY --chown=10001:10001 docker/train-and-publish.sh /app/train-and-publish.sh
ENTRYPOINT ["/app/train-and-publish.sh"]
CMD ["detector"]
