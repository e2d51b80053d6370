"""Prometheus for ``sketchref up``: a scrape config for the local stack, and optionally the server.

``sketchref up`` gives every worker a metrics port and writes ``<data-dir>/prometheus/prometheus.yml``
scraping the gateway (``/metrics``: queues, jobs, live workers) and the workers (stage durations by
model version, Unsplash, cache), with the alert rules of ``k8s/monitoring/rules.yaml``. ``--prometheus``
also starts ``prometheus`` (Debian: ``apt-get install prometheus``) on 127.0.0.1; otherwise run it
by hand with the printed command. The same jobs (``sketchref-gateway``, ``sketchref-workers``) and
labels as compose and k8s, so the dashboard and rules work unchanged.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import yaml

from .settings import ROOT

RULES = ROOT / "k8s" / "monitoring" / "rules.yaml"


def write_config(folder: Path, gateway_port: int, worker_ports: dict[str, int], interval_s: int = 5) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    cfg = {
        "global": {"scrape_interval": f"{interval_s}s", "evaluation_interval": f"{interval_s}s"},
        "rule_files": [str(RULES)],
        "scrape_configs": [
            {"job_name": "sketchref-gateway", "static_configs": [{"targets": [f"127.0.0.1:{gateway_port}"]}]},
            {"job_name": "sketchref-workers", "static_configs": [
                {"targets": [f"127.0.0.1:{port}"], "labels": {"kind": kind}} for kind, port in worker_ports.items()]},
        ],
    }
    path = folder / "prometheus.yml"
    path.write_text("# Written by sketchref up (services/common/scrape.py).\n" + yaml.safe_dump(cfg, sort_keys=False))
    return path


def prometheus_command(config: Path, data_dir: Path, port: int) -> list[str]:
    exe = shutil.which("prometheus")
    if exe is None:
        raise FileNotFoundError("prometheus not found: apt-get install prometheus")
    data_dir.mkdir(parents=True, exist_ok=True)
    return [exe, f"--config.file={config}", f"--storage.tsdb.path={data_dir}",
            f"--web.listen-address=127.0.0.1:{port}", "--storage.tsdb.retention.time=2d"]
