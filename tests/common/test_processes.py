"""services.common.processes: free ports handed out by one process never repeat (the local stack starts several servers at once)."""

from __future__ import annotations

from services.common import processes


def test_free_ports_are_distinct_and_respect_reservations(monkeypatch):
    monkeypatch.setattr(processes, "_taken", set())
    processes.reserve(8000)
    ports = [processes.free_port() for _ in range(50)]
    pairs = [processes.free_port_pair() for _ in range(5)]
    grpc = [p + 10000 for p in pairs]
    everything = ports + pairs + grpc
    assert len(set(everything)) == len(everything)
    assert 8000 not in everything


def test_a_port_the_os_offers_again_is_skipped(monkeypatch):
    # the OS gives the same port twice in a row (it was closed in between): the second call moves on
    monkeypatch.setattr(processes, "_taken", set())
    offered = iter([41000, 41000, 41001])

    class FakeSocket:
        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

        def bind(self, addr):
            self.port = next(offered)

        def getsockname(self):
            return ("127.0.0.1", self.port)

    monkeypatch.setattr(processes.socket, "socket", FakeSocket)
    assert [processes.free_port(), processes.free_port()] == [41000, 41001]
