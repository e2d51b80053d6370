# syntax=docker/dockerfile:1
# sketchref recommender worker: Celery on queue `recommend`. Slim Python, no torch (extra `recommender`).
# The local reference gallery ships in models/ (baked in below).
# Build from the repository root:  docker build -f docker/recommender.Dockerfile -t sketchref/recommender .

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /src
COPY pyproject.toml README.md ./
COPY requirements ./requirements
COPY services ./services
COPY cli ./cli
COPY training ./training
RUN pip install -c requirements/lock.txt ".[recommender]" \
 && if python -c "import torch" 2>/dev/null; then echo "torch must not be in the recommender image" >&2; exit 1; fi

FROM ${PYTHON_IMAGE} AS runtime
LABEL org.opencontainers.image.title="sketchref-recommender" \
      org.opencontainers.image.description="sketchref recommender worker (queue recommend, no torch)"
RUN groupadd --system --gid 10001 sketchref \
 && useradd --system --uid 10001 --gid sketchref --home-dir /app --shell /usr/sbin/nologin sketchref
COPY --from=build /opt/venv /opt/venv
COPY --chown=10001:10001 models /app/models
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    SKETCHREF_MODELS_DIR=/app/models \
    SKETCHREF_LOCAL_STORAGE_DIR=/tmp/sketchref-storage
WORKDIR /app
USER 10001:10001
# A hung worker stops answering the broker's ping; SIGTERM is Celery's warm shutdown.
HEALTHCHECK --interval=30s --timeout=15s --start-period=30s --retries=3 \
  CMD ["python", "-m", "services.common.probe", "worker"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["sketchref"]
# threads, 8 at once: batches across jobs (docs/operators.md "Throughput"); the watchdog enforces time limits
CMD ["worker", "recommender", "--pool", "threads", "--concurrency", "8"]
