# sketchref: `make demo` recognizes an example sketch; `make test` runs the tests.
# Both set up what they need first (idempotent): Debian packages, .venv, torch, the project, assets.

PY      ?= python3
VENV    := .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.stamp-setup
export HF_HUB_OFFLINE ?= 1
export TRANSFORMERS_OFFLINE ?= 1
export YOLO_OFFLINE ?= 1
export YOLO_AUTOINSTALL ?= false
export YOLO_CONFIG_DIR ?= $(CURDIR)/.cache/ultralytics

APT_PACKAGES := redis-server chromium chromium-driver docker-compose fonts-dejavu-core

.PHONY: setup system-packages demo test lint bench load clean-venv env security security-tools chaos

setup: $(STAMP)

$(STAMP): pyproject.toml scripts/setup_assets.py
	@$(MAKE) --no-print-directory system-packages
	@test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q torch==2.14.1 torchvision==0.29.1
	$(BIN)/pip install -q -e '.[dev]'
	$(BIN)/python scripts/setup_assets.py
	@touch $(STAMP)

system-packages:
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi

demo: setup
	$(BIN)/sketchref recognize examples/three_objects.png --annotate out/demo.png

test: setup security-tools
	$(BIN)/python -m pytest -q -rs

# checkov pins dependencies that clash with the project's: it gets a venv of its own
CHECKOV := .cache/tools/checkov/bin/checkov
security-tools: $(CHECKOV)
$(CHECKOV):
	$(PY) -m venv .cache/tools/checkov
	.cache/tools/checkov/bin/pip install -q checkov==3.3.30

# bandit on the Python, checkov on the rendered k8s overlays and the Dockerfiles (security/checkov-allowlist.yaml)
security: setup security-tools
	$(BIN)/python scripts/security_scan.py

lint: setup
	$(BIN)/ruff check services training tests scripts

bench: setup
	$(BIN)/python scripts/bench.py

load: setup
	bash scripts/load.sh

# a .env with random keys for docker-compose (kept if it exists; only missing keys are added)
env:
	$(PY) -c "import sys; sys.path.insert(0, '.'); from services.cli import main; sys.exit(main(['env']))"

# faults against a real `sketchref up` (kill -9 Redis / each worker, frozen Redis and S3), measured:
# prints a table, writes reports/chaos/chaos.json. CHAOS_ARGS="--doubles --stage-delay 0.3" for plumbing only.
chaos: setup
	$(BIN)/python scripts/chaos.py $(CHAOS_ARGS)

clean-venv:
	rm -rf $(VENV)
