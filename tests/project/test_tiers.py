"""The tiers of tests/conftest.py hold: every test has exactly one, and a unit test is stopped when it
starts a process or a server."""

from __future__ import annotations

import multiprocessing
import socket
import subprocess

import pytest

from tests.conftest import TIERS

pytestmark = pytest.mark.unit


def test_every_collected_test_has_exactly_one_tier(request):
    items = request.session.items
    assert items
    for item in items:
        tiers = {m.name for m in item.iter_markers() if m.name in TIERS}
        assert len(tiers) == 1, (item.nodeid, tiers)
        if "tests/web/" in item.nodeid:
            assert tiers == {"e2e"}, item.nodeid


def test_a_unit_test_cannot_start_a_process_or_a_server():
    with pytest.raises(RuntimeError, match="must not start a subprocess"):
        subprocess.run(["true"], check=False)
    with pytest.raises(RuntimeError, match="must not start a process"):
        multiprocessing.get_context("spawn").Process(target=int).start()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        with pytest.raises(RuntimeError, match="listen on a socket"):
            s.listen()
        with pytest.raises(RuntimeError, match="connect to a server"):
            s.connect(("127.0.0.1", 9))
