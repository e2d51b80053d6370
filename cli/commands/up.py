"""``sketchref up [--port 8000]``: the whole stack as local processes on 127.0.0.1, no containers.

Starts redis-server, SeaweedFS (``weed mini``, the S3 server), the detector, classifier and
recommender workers and the gateway, each with its output prefixed by its name.

Supervision: any child that dies (Redis, S3, a worker, the gateway) is started again on the same
ports with exponential back-off (0.5 s, 1 s, 2 s, ... at most 30 s; back to 0.5 s once it has run for a
minute), and the restart is logged; the rest of the stack keeps running. Redis keeps an append-only
file in ``--data-dir`` (fsync every second), so job records and queued tasks survive its crash; a
crashed worker's unacknowledged task is redelivered (see services/common/queue.py).

Ctrl-C (SIGINT) or SIGTERM stops everything within 15 s: the gateway and workers first (SIGTERM,
SIGKILL after 10 s), then S3 and Redis. If ``up`` itself is SIGKILLed, its children die with it
(PDEATHSIG and the reaper of services/common/processes.py).
"""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

from services.common.processes import (
    Proc,
    free_port,
    free_weed_ports,
    port_open,
    python_command,
    redis_command,
    reserve,
    wait_until,
    weed_command,
    weed_env,
)
from services.common.queue import PIPELINE, stage_tables
from services.common.settings import ROOT


def workers_of(pipeline) -> tuple[str, ...]:
    """The worker kinds ``up`` starts: one per stage, in pipeline order (services/common/queue.py)."""
    return tuple(stage_tables(pipeline).worker_queues)


WORKERS = workers_of(PIPELINE)
BACKOFF_START_S = 0.5
BACKOFF_MAX_S = 30.0
HEALTHY_AFTER_S = 60.0  # a child that ran this long restarts at once next time (back-off reset)


def add_arguments(parser) -> None:
    parser.add_argument("--port", type=int, default=8000, help="gateway port (default 8000)")
    parser.add_argument("--redis-port", type=int, default=6379)
    parser.add_argument("--s3-port", type=int, default=8333)
    parser.add_argument("--free-ports", action="store_true",
                        help="pick free ports for Redis and every SeaweedFS server (the gateway keeps --port)")
    parser.add_argument("--data-dir", type=Path, default=ROOT / ".cache" / "up")
    # threads, 8 at once: cross-job batching in one process (docs/operators.md "Throughput", measured by
    # make bench-throughput); a stuck task is ended by the watchdog (services/common/watchdog.py)
    parser.add_argument("--concurrency", type=int, default=8, help="tasks at once per worker (default 8)")
    parser.add_argument("--batch-size", type=int, default=None, help="cross-job batch size of the detector and "
                        "classifier (sketchref worker --batch-size)")
    parser.add_argument("--batch-wait-ms", type=float, default=None, help="sketchref worker --batch-wait-ms")
    parser.add_argument("--pool", default="threads", choices=["prefork", "solo", "threads"],
                        help="Celery pool of each worker (default threads: batches across jobs; prefork: one "
                             "process per task, a killed pool child's task requeues at once)")
    parser.add_argument("--log-dir", type=Path, default=None, help="also write each process's log here")
    parser.add_argument("--prometheus", action="store_true",
                        help="also run Prometheus (apt-get install prometheus) on the written scrape config")
    parser.add_argument("--prometheus-port", type=int, default=9090)


class Stack:
    def __init__(self, args):
        self.args = args
        self.procs: dict[str, Proc] = {}
        self.cmds: dict[str, tuple[list[str], dict]] = {}
        self.started_at: dict[str, float] = {}
        self.restarts: dict[str, int] = {}
        self.restart_at: dict[str, float] = {}
        self.stopping = False
        self.color = 0
        self.metrics_ports = {kind: free_port() for kind in WORKERS}  # each worker's Prometheus port

    def env(self, redis_port: int, s3_port: int) -> dict:
        env = dict(os.environ)
        env.update({
            "SKETCHREF_REDIS_URL": f"redis://127.0.0.1:{redis_port}/0",
            "SKETCHREF_S3_ENDPOINT_URL": f"http://127.0.0.1:{s3_port}",
            "PYTHONUNBUFFERED": "1", "HF_HUB_OFFLINE": "1", "YOLO_OFFLINE": "1",
        })
        # the local S3 server accepts only these (weed_env); set your own to change them
        env.setdefault("SKETCHREF_S3_ACCESS_KEY", "sketchref-local")
        env.setdefault("SKETCHREF_S3_SECRET_KEY", "sketchref-local")
        env.setdefault("SKETCHREF_WORKER_METRICS_ADDR", "127.0.0.1")  # the workers' /metrics: loopback only
        return env

    def start(self, name: str, cmd: list[str], env: dict) -> Proc:
        log = self.args.log_dir / f"{name}.log" if self.args.log_dir else None
        if log:
            log.parent.mkdir(parents=True, exist_ok=True)
        color = list(self.cmds).index(name) if name in self.cmds else len(self.cmds)
        p = Proc(name, cmd, env=env, cwd=ROOT, color=color, log_file=log)
        self.cmds[name] = (cmd, env)
        self.procs[name] = p
        self.started_at[name] = time.monotonic()
        say(f"{name} started (pid {p.pid})")
        return p

    def supervise(self) -> None:
        """Restart every child that died, each after its back-off; never blocks."""
        now = time.monotonic()
        for name, p in list(self.procs.items()):
            if p.alive():
                continue
            if name not in self.restart_at:
                if now - self.started_at[name] >= HEALTHY_AFTER_S:
                    self.restarts[name] = 0
                n = self.restarts.get(name, 0)
                delay = min(BACKOFF_MAX_S, BACKOFF_START_S * 2 ** n)
                self.restarts[name] = n + 1
                self.restart_at[name] = now + delay
                say(f"{name} exited ({p.popen.returncode}); restarting in {delay:.1f} s (restart {n + 1})")
                p.stop(grace=2)  # its group too: a dead worker's orphaned pool children
            elif now >= self.restart_at[name]:
                del self.restart_at[name]
                cmd, env = self.cmds[name]
                try:
                    self.start(name, cmd, env)
                except OSError as exc:
                    say(f"{name} could not be started: {exc}")
                    self.started_at[name] = now

    def worker_cmd(self, kind: str) -> list[str]:
        batch = [f"--{k.replace('_', '-')}={v}" for k in ("batch_size", "batch_wait_ms")
                 if (v := getattr(self.args, k, None)) is not None]
        return python_command("worker", kind, "--concurrency", str(self.args.concurrency), "--pool", self.args.pool,
                              "--metrics-port", str(self.metrics_ports[kind]), *batch)

    def stop_all(self) -> None:
        """Gateway and workers together (10 s to finish, then SIGKILL), then S3 and Redis (3 s)."""
        self.stopping = True
        for names, grace in ((["prometheus", "gateway", *WORKERS], 10.0), (["s3", "redis"], 3.0)):
            procs = [self.procs[n] for n in names if n in self.procs]
            for p in procs:
                if p.alive():
                    say(f"stopping {p.name}")
                    p.terminate()
            end = time.monotonic() + grace
            for p in procs:
                p.stop(grace=max(0.1, end - time.monotonic()))


def say(msg: str) -> None:
    sys.stdout.write(f"{'up':<11}| {msg}\n")
    sys.stdout.flush()


def _bucket_ready(env: dict) -> bool:
    from services.common.settings import CommonSettings
    from services.common.storage import S3Storage

    s = CommonSettings(s3_endpoint_url=env["SKETCHREF_S3_ENDPOINT_URL"],
                       s3_access_key=env["SKETCHREF_S3_ACCESS_KEY"], s3_secret_key=env["SKETCHREF_S3_SECRET_KEY"],
                       s3_bucket=env.get("SKETCHREF_S3_BUCKET", "sketchref"))
    S3Storage.from_settings(s).ensure_bucket()
    return True


def _gateway_ready(port: int) -> bool:
    import httpx

    return httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200


def _scrape(stack: Stack, args, env: dict) -> None:
    """Write the Prometheus scrape config of this stack; start Prometheus with ``--prometheus``."""
    from services.common.scrape import prometheus_command, write_config

    cfg = write_config(args.data_dir / "prometheus", args.port, stack.metrics_ports)
    if args.prometheus:
        stack.start("prometheus", prometheus_command(cfg, args.data_dir / "prometheus" / "data",
                                                     args.prometheus_port), env)
        say(f"prometheus: http://127.0.0.1:{args.prometheus_port}")
    else:
        say(f"metrics: workers on {sorted(stack.metrics_ports.values())}; scrape config {cfg}")


def run(args) -> int:
    stack = Stack(args)
    interrupted = []
    ready = []

    def on_signal(signum, frame):
        interrupted.append(signum)
        if not ready:  # still starting: abandon the start-up, stop what was started
            raise KeyboardInterrupt

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    reserve(args.port)
    redis_port = free_port() if args.free_ports else args.redis_port
    s3_port = free_port() if args.free_ports else args.s3_port
    weed_ports = free_weed_ports() if args.free_ports else None
    for what, port in (("redis", redis_port), ("S3", s3_port), ("gateway", args.port)):
        if port_open(port):
            say(f"port {port} ({what}) is already in use; choose another (--free-ports picks free ones)")
            return 2
    env = stack.env(redis_port, s3_port)
    code = 0
    try:
        redis = stack.start("redis", redis_command(redis_port, args.data_dir / "redis"), env)
        wait_until(lambda: port_open(redis_port), 20, "redis-server", redis)
        s3 = stack.start("s3", weed_command(s3_port, args.data_dir / "s3", weed_ports),
                         weed_env(env["SKETCHREF_S3_ACCESS_KEY"], env["SKETCHREF_S3_SECRET_KEY"], env))
        wait_until(lambda: _bucket_ready(env), 60, "SeaweedFS S3", s3)
        for kind in WORKERS:
            stack.start(kind, stack.worker_cmd(kind), env)
        gw = stack.start("gateway", python_command("gateway", "--port", str(args.port)), env)
        wait_until(lambda: _gateway_ready(args.port), 60, "gateway", gw)
        _scrape(stack, args, env)
        say(f"ready: http://127.0.0.1:{args.port}  (redis :{redis_port}, S3 :{s3_port}); Ctrl-C stops")
        ready.append(True)
        while not interrupted:
            time.sleep(0.2)
            if not interrupted:
                stack.supervise()
    except (TimeoutError, RuntimeError, FileNotFoundError) as exc:
        say(f"start-up failed: {exc}")
        code = 1
    except KeyboardInterrupt:
        say("interrupted during start-up")
    finally:
        ready.append(True)  # a second signal while stopping must not interrupt the stop
        stack.stop_all()
        say("stopped")
    return code
