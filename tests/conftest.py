"""Test tiers, marked here for every test so that no module has to remember to.

- ``unit``: in-process only. No server (not even a loopback one), no subprocess or worker process, no
  browser, no training run. ``make test-fast`` runs this tier (``pytest -m unit``) in well under 60 s.
- ``integration``: starts real servers or processes (redis-server, SeaweedFS, Celery workers, uvicorn,
  the CLI, the fake Unsplash server, linters), or runs a real model over a real data set (tens of s).
- ``e2e``: a phone-sized Chromium against the whole stack, or a training run end to end.

How a test gets its tier, first rule that applies:
1. an explicit ``pytest.mark.unit/integration/e2e`` on the test or its module;
2. its module or its node id in ``PATH_TIERS`` (tests that start processes or servers, train, or run a
   real pretrained model over a real data set, without a fixture saying so);
3. its folder in ``FOLDER_TIERS``;
4. ``integration`` when it uses (directly or through other fixtures) one of ``SERVER_FIXTURES``;
5. otherwise ``unit``.

A unit test is held to it while it runs: starting a process or listening on / connecting to a socket
raises, naming the rule to change. So a module that starts to use a server shows up at once.
"""

from __future__ import annotations

import multiprocessing.process
import socket
import subprocess
from pathlib import Path

import pytest

TIERS = ("unit", "integration", "e2e")
ROOT = Path(__file__).resolve().parents[1]

FOLDER_TIERS = {
    "tests/web/": "e2e",  # Chromium via Playwright against the real stack
}

PATH_TIERS = {
    # start a subprocess or a server (CLI, linter, helper process, the fake Unsplash) without a fixture
    "tests/cli/test_recognize.py": "integration",
    "tests/common/test_model_source.py": "integration",
    "tests/common/test_probe.py": "integration",
    "tests/deploy/test_manifests.py": "integration",
    "tests/deploy/test_compose_env.py": "integration",
    "tests/deploy/test_monitoring.py": "integration",
    "tests/deploy/test_security.py": "integration",
    "tests/deploy/test_supply_chain.py": "integration",
    "tests/services/test_up_supervision.py": "integration",
    "tests/gateway/test_gateway_no_torch.py": "integration",
    "tests/services/test_up.py": "integration",
    "tests/scripts/test_bench_throughput.py": "integration",
    "tests/scripts/test_bench_hops.py": "integration",
    # the trained models over unseen test-split scenes, batched vs one at a time
    "tests/common/test_batched_pipeline.py": "integration",
    "tests/recommender/test_cache.py::test_single_flight_threads_file_lock": "integration",
    "tests/recommender/test_cache.py::test_single_flight_processes_file_lock": "integration",
    "tests/recommender/test_gateway_routes.py::test_references_route_imports_no_torch": "integration",
    "tests/recommender/test_unsplash.py::test_ratelimit_remaining_is_honoured": "integration",
    # a real model over a real data set: the pretrained DoodleNet on Google's bitmaps, the gallery of
    # the shared photos
    "tests/classifier/test_doodlenet.py::test_reproduces_doodlenet_on_google_bitmaps": "integration",
    "tests/recommender/test_gallery.py::test_default_gallery_from_the_shared_photos": "integration",
    # training runs end to end (YOLO, the adapter trainer, the ablation grid)
    "tests/detector/test_train_tiny.py": "e2e",
    "tests/detector/test_focal_onnx_tiny.py": "e2e",
    "tests/detector/test_protocol_v2.py::test_tiny_protocol_runs_end_to_end_and_resumes": "e2e",
    "tests/classifier/test_lora_clip.py": "e2e",
    "tests/training/classifier/test_adapt_cli.py": "e2e",
    "tests/training/classifier/test_ablation.py": "e2e",
    "tests/training/classifier/test_protocol_v2_cli.py": "e2e",
    # a local HTTP mirror (loopback server in a thread)
    "tests/training/test_data_fetch.py": "integration",
}

SERVER_FIXTURES = frozenset({
    "redis_url", "s3_endpoint", "stack_env", "gateway", "s3_settings", "fake_unsplash", "web_env",
    "web_gateway", "s3_storage",
})


def tier_of(item: pytest.Item) -> str:
    explicit = [m.name for m in item.iter_markers() if m.name in TIERS]
    if explicit:
        return explicit[0]
    rel = Path(str(item.path)).resolve().relative_to(ROOT).as_posix()
    name = item.name.split("[")[0]
    for key in (f"{rel}::{name}", rel):
        if key in PATH_TIERS:
            return PATH_TIERS[key]
    for folder, tier in FOLDER_TIERS.items():
        if rel.startswith(folder):
            return tier
    if SERVER_FIXTURES & set(getattr(item, "fixturenames", ())):
        return "integration"
    return "unit"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        tier = tier_of(item)
        if not item.get_closest_marker(tier):
            item.add_marker(getattr(pytest.mark, tier))


# Programs a library may run by itself on a cold cache (matplotlib lists the system fonts once).
HARMLESS_PROGRAMS = frozenset({"fc-list"})


def _refuse(what: str):
    def refuse(*args, **kwargs):
        raise RuntimeError(
            f"a unit test must not {what}: give it a tier in tests/conftest.py (PATH_TIERS) "
            "or mark it pytest.mark.integration / e2e")
    return refuse


def _guarded_popen(original):
    refuse = _refuse("start a subprocess")

    def popen_init(self, args, *rest, **kwargs):
        argv = [args] if isinstance(args, (str, bytes)) else list(args)
        if argv and Path(str(argv[0])).name in HARMLESS_PROGRAMS:
            return original(self, args, *rest, **kwargs)
        refuse()
    return popen_init


@pytest.fixture(autouse=True)
def _hold_unit_tests_to_their_tier(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch):
    if request.node.get_closest_marker("unit") is not None:
        monkeypatch.setattr(subprocess.Popen, "__init__", _guarded_popen(subprocess.Popen.__init__))
        monkeypatch.setattr(multiprocessing.process.BaseProcess, "start", _refuse("start a process"))
        monkeypatch.setattr(socket.socket, "listen", _refuse("listen on a socket (start a server)"))
        monkeypatch.setattr(socket.socket, "connect", _refuse("connect to a server"))
        monkeypatch.setattr(socket.socket, "connect_ex", _refuse("connect to a server"))
    yield
