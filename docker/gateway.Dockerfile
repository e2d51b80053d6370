# syntax=docker/dockerfile:1
# sketchref gateway: FastAPI behind uvicorn on :8000. Slim Python, no torch (extra `gateway` only).
# Build from the repository root:  docker build -f docker/gateway.Dockerfile -t sketchref/gateway .

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
RUN pip install -c requirements/lock.txt ".[gateway]" \
 && if python -c "import torch" 2>/dev/null; then echo "torch must not be in the gateway image" >&2; exit 1; fi

FROM ${PYTHON_IMAGE} AS runtime
LABEL org.opencontainers.image.title="sketchref-gateway" \
      org.opencontainers.image.description="sketchref HTTP gateway (no torch)"
RUN groupadd --system --gid 10001 sketchref \
 && useradd --system --uid 10001 --gid sketchref --home-dir /app --shell /usr/sbin/nologin sketchref
COPY --from=build /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    SKETCHREF_MODELS_DIR=/app/models \
    SKETCHREF_LOCAL_STORAGE_DIR=/tmp/sketchref-storage
WORKDIR /app
USER 10001:10001
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 \
  CMD ["python", "-m", "services.common.probe", "gateway", "--url", "http://127.0.0.1:8000/healthz"]
ENTRYPOINT ["sketchref"]
CMD ["gateway", "--host", "0.0.0.0", "--port", "8000"]
