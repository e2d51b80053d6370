# sketchref: `make demo` recognizes an example sketch; `make test` runs the tests.
# Both set up what they need first (idempotent): Debian packages, .venv, torch, the project, assets.

PY      ?= python3
VENV    := .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.stamp-setup
# Every install goes through this lock (uv pip compile of all extras, Python 3.11, Linux x86_64):
# `make lock` refreshes it, keeping today's pins where they still fit; `make lock UPGRADE=1` moves all.
LOCK    := requirements/lock.txt
PIP     := $(BIN)/pip install -q -c $(LOCK)
export HF_HUB_OFFLINE ?= 1
export TRANSFORMERS_OFFLINE ?= 1
export YOLO_OFFLINE ?= 1
export YOLO_AUTOINSTALL ?= false
export YOLO_CONFIG_DIR ?= $(CURDIR)/.cache/ultralytics

APT_PACKAGES := redis-server chromium chromium-driver docker-compose fonts-dejavu-core prometheus

.PHONY: setup system-packages lock demo test test-fast lint bench bench-throughput load clean-venv env security security-tools chaos

setup: $(STAMP)

# torch comes first, from its own source: here the default index (the 2.14.1 build this machine
# provides); the images choose the CPU or CUDA wheels with TORCH_INDEX_URL (docker/*.Dockerfile).
$(STAMP): pyproject.toml $(LOCK) scripts/setup_assets.py
	@$(MAKE) --no-print-directory system-packages
	@test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(PIP) torch==2.14.1 torchvision==0.29.1
	$(PIP) -e '.[dev]'
	$(BIN)/python scripts/setup_assets.py
	@touch $(STAMP)

lock:
	@test -x $(BIN)/python || $(PY) -m venv $(VENV)
	@test -x $(BIN)/uv || $(PIP) uv
	$(BIN)/uv pip compile pyproject.toml --all-extras --python-version 3.11 \
	  --python-platform x86_64-manylinux_2_28 --custom-compile-command "make lock" \
	  $(if $(UPGRADE),--upgrade) -q -o $(LOCK)

system-packages:
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi

demo: setup
	$(BIN)/sketchref recognize examples/three_objects.png --annotate out/demo.png

# checkov pins dependencies that clash with the project's: it gets a venv of its own
CHECKOV := .cache/tools/checkov/bin/checkov
security-tools: $(CHECKOV)
$(CHECKOV):
	$(PY) -m venv .cache/tools/checkov
	.cache/tools/checkov/bin/pip install -q checkov==3.3.30

# bandit on the Python, checkov on the rendered k8s overlays and the Dockerfiles (security/checkov-allowlist.yaml)
security: setup security-tools
	$(BIN)/python scripts/security_scan.py

# Every tier (unit, integration, e2e: tests/conftest.py) and the 15 slowest tests; CI runs this.
test: setup security-tools
	$(BIN)/python -m pytest -q -rs --durations=15

# The unit tier only: in-process, no server, process, browser or training run (< 60 s).
test-fast: setup
	$(BIN)/python -m pytest -q -rs -m unit --durations=15

# ruff on everything (T20: no print outside the command line), mypy --strict on the files listed
# under [tool.mypy] in pyproject.toml (the stage interfaces and the typed core). CI runs it.
lint: setup
	$(BIN)/ruff check cli services training tests scripts loadtest
	$(BIN)/mypy

bench: setup
	$(BIN)/python scripts/bench.py

bench-throughput: setup
	$(BIN)/python scripts/bench_throughput.py $(ARGS)

load: setup
	bash scripts/load.sh

# a .env with random keys for docker-compose (kept if it exists; only missing keys are added)
env:
	$(PY) -c "import sys; sys.path.insert(0, '.'); from cli.main import main; sys.exit(main(['env']))"

# faults against a real `sketchref up` (kill -9 Redis / each worker, frozen Redis and S3), measured:
# prints a table, writes reports/chaos/chaos.json. CHAOS_ARGS="--doubles --stage-delay 0.3" for plumbing only.
chaos: setup
	$(BIN)/python scripts/chaos.py $(CHAOS_ARGS)

clean-venv:
	rm -rf $(VENV)
