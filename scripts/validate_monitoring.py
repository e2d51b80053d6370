"""Offline checks of the monitoring files (no cluster, no Prometheus server, no Grafana):

1. ``k8s/monitoring/{rules.yaml, prometheusrule.yaml, dashboards/sketchref.json}`` are what
   ``scripts/monitoring.py write`` writes (nobody edited one and not the others);
2. ``promtool check rules`` and ``promtool test rules k8s/monitoring/rules.test.yaml`` (Debian:
   ``apt-get install prometheus``); without promtool, a structural check of the rules and a note;
3. ``kubectl kustomize k8s/monitoring`` and ``k8s/canary``: core kinds through ``kubernetes-validate
   --strict``, the Prometheus Operator kinds against the strict schemas in ``k8s/schemas/``; the
   canary's pod must be the base classifier's but for its name, labels, args and drained queue;
4. the Grafana dashboard: its structure (:func:`check_dashboard`) and that every metric its queries
   and the rules name is one sketchref exports (or a known kube-state-metrics/Prometheus one);
5. ``docker-compose --profile observability config -q``.

``python scripts/validate_monitoring.py`` prints each check and exits 0 when all pass.
"""

from __future__ import annotations

import copy
import json
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
import monitoring  # noqa: E402

MON = ROOT / "k8s" / "monitoring"
SCHEMAS = {"PodMonitor": "monitoring-podmonitor-v1.json", "ServiceMonitor": "monitoring-servicemonitor-v1.json",
           "PrometheusRule": "monitoring-prometheusrule-v1.json"}
# what sketchref exports (gateway /metrics and worker ports) and the few outside metrics it uses
KNOWN_METRICS = {
    "sketchref_jobs_total", "sketchref_jobs_active", "sketchref_queue_depth",
    "sketchref_rate_limited_total", "sketchref_redis_up", "sketchref_workers", "sketchref_model_route_weight",
    "sketchref_worker_stage_seconds_bucket", "sketchref_worker_stage_seconds_count",
    "sketchref_worker_model_info", "sketchref_worker_start_time_seconds", "sketchref_recommender_cache_total",
    "sketchref_unsplash_requests_total", "kube_pod_status_ready", "kube_pod_container_status_restarts_total", "up",
}
PANEL_TYPES = {"timeseries", "stat", "table", "gauge", "bargauge", "text", "row"}
_FUNCS = {"sum", "max", "min", "avg", "count", "rate", "increase", "deriv", "changes", "histogram_quantile",
          "clamp_min", "by", "on", "unless", "and", "or", "le", "without", "ignoring", "group_left", "inf"}


def metric_names(expr: str) -> set[str]:
    """Metric names in a PromQL expression (identifiers outside label matchers, not functions)."""
    bare = re.sub(r"\{[^}]*\}", "", expr)
    bare = re.sub(r"\[[^\]]*\]", "", bare)
    bare = re.sub(r"\"[^\"]*\"", "", bare)
    bare = re.sub(r"by \([^)]*\)|on \([^)]*\)", "", bare)
    names = set(re.findall(r"[a-zA-Z_:][a-zA-Z0-9_:]*", bare))
    return {n for n in names if n not in _FUNCS and not re.fullmatch(r"e\d*|\d.*", n)}


def check_dashboard(d: dict) -> list[str]:
    errors = []
    for key in ("uid", "title", "panels", "schemaVersion", "templating", "time"):
        if key not in d:
            errors.append(f"dashboard: no {key}")
    variables = {v.get("name") for v in d.get("templating", {}).get("list", [])}
    ids, cells = set(), set()
    for p in d.get("panels", []):
        where = f"panel {p.get('id')} {p.get('title')!r}"
        if p.get("id") in ids:
            errors.append(f"{where}: duplicate id")
        ids.add(p.get("id"))
        if p.get("type") not in PANEL_TYPES:
            errors.append(f"{where}: unknown type {p.get('type')!r}")
        g = p.get("gridPos") or {}
        if not all(isinstance(g.get(k), int) for k in "hwxy") or g.get("x", 0) + g.get("w", 0) > 24:
            errors.append(f"{where}: bad gridPos {g}")
        else:
            for x in range(g["x"], g["x"] + g["w"]):
                for y in range(g["y"], g["y"] + g["h"]):
                    if (x, y) in cells:
                        errors.append(f"{where}: overlaps another panel at {x},{y}")
                        break
                    cells.add((x, y))
        uid = (p.get("datasource") or {}).get("uid", "")
        if uid.startswith("${") and uid[2:-1] not in variables:
            errors.append(f"{where}: datasource variable {uid} is not defined")
        targets = p.get("targets") or []
        if p.get("type") != "text" and not targets:
            errors.append(f"{where}: no queries")
        refs = [t.get("refId") for t in targets]
        if len(set(refs)) != len(refs):
            errors.append(f"{where}: duplicate refId")
        for t in targets:
            unknown = metric_names(t.get("expr", "")) - KNOWN_METRICS
            if not t.get("expr") or unknown:
                errors.append(f"{where}: query {t.get('expr')!r} names unknown metrics {sorted(unknown)}")
    return errors


def check_rules_structure(r: dict) -> list[str]:
    errors = []
    for g in r.get("groups", []):
        for rule in g.get("rules", []):
            name = rule.get("alert", "?")
            for need in ("expr", "for"):
                if need not in rule:
                    errors.append(f"{name}: no {need}")
            if not rule.get("labels", {}).get("severity"):
                errors.append(f"{name}: no severity")
            if not rule.get("annotations", {}).get("runbook_url"):
                errors.append(f"{name}: no runbook_url")
            unknown = metric_names(rule.get("expr", "")) - KNOWN_METRICS
            if unknown:
                errors.append(f"{name}: unknown metrics {sorted(unknown)}")
    return errors


def _kustomize(path: Path) -> list[dict]:
    out = subprocess.run(["kubectl", "kustomize", str(path)], check=True, capture_output=True, text=True).stdout
    return [d for d in yaml.safe_load_all(out) if d]


def check_k8s(docs: list[dict], kv: str) -> list[str]:
    import jsonschema

    errors, core = [], []
    for d in docs:
        if d["kind"] in SCHEMAS:
            schema = json.loads((ROOT / "k8s" / "schemas" / SCHEMAS[d["kind"]]).read_text())
            for e in jsonschema.Draft202012Validator(schema).iter_errors(d):
                errors.append(f"{d['kind']}/{d['metadata']['name']}: {e.message} at {list(e.absolute_path)}")
        else:
            core.append(d)
    if core:
        with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as f:
            yaml.safe_dump_all(core, f)
        r = subprocess.run([kv, "--strict", "--quiet", f.name], capture_output=True, text=True)
        Path(f.name).unlink()
        if r.returncode != 0 or r.stdout.strip() or r.stderr.strip():
            errors.append("kubernetes-validate: " + (r.stdout + r.stderr).strip())
    return errors


def canary_drift(canary: dict, base: dict) -> list[str]:
    """The canary Deployment's pod may differ from the base classifier's only where it must."""
    a, b = copy.deepcopy(canary["spec"]["template"]["spec"]), copy.deepcopy(base["spec"]["template"]["spec"])
    ca, cb = a["containers"][0], b["containers"][0]
    version = ca["args"][ca["args"].index("--model-version") + 1] if "--model-version" in ca["args"] else None
    errors = [] if version else ["canary: no --model-version in its args"]
    if ca["lifecycle"]["preStop"]["exec"]["command"][-1] != f"classify@{version}":
        errors.append("canary: preStop does not drain its own queue")
    for c in (ca, cb):
        c.pop("args")
        c["lifecycle"]["preStop"]["exec"].pop("command")
    if a != b:
        errors.append("canary: its pod spec drifted from k8s/base/classifier.yaml")
    return errors


def _tool(name: str) -> str | None:
    here = Path(sys.executable).parent / name
    return str(here) if here.exists() else shutil.which(name)


def main() -> int:
    errors: list[str] = []

    def step(title: str, errs: list[str]) -> None:
        print(("ok:     " if not errs else "FAILED: ") + title)
        for e in errs:
            print("        " + e)
        errors.extend(errs)

    step("generated files match scripts/monitoring.py",
         [f"{p.relative_to(ROOT)} differs: run python scripts/monitoring.py write"
          for p, text in monitoring.files().items() if not p.is_file() or p.read_text() != text])
    rules = yaml.safe_load((MON / "rules.yaml").read_text())
    step("rules: structure, severities, runbooks, known metrics", check_rules_structure(rules))
    promtool = _tool("promtool")
    if promtool:
        for args in (["check", "rules", "rules.yaml"], ["test", "rules", "rules.test.yaml"]):
            r = subprocess.run([promtool, *args], cwd=MON, capture_output=True, text=True)
            step("promtool " + " ".join(args), [] if r.returncode == 0 else [(r.stdout + r.stderr).strip()])
    else:
        print("note:   promtool not found (apt-get install prometheus): rule syntax checked structurally only")
    step("dashboard: structure and queries", check_dashboard(json.loads((MON / "dashboards" / "sketchref.json")
                                                                        .read_text())))
    kv = _tool("kubernetes-validate")
    if kv is None:
        step("kubernetes-validate", ["missing tool: pip install kubernetes-validate"])
    else:
        mon = _kustomize(MON)
        step(f"k8s/monitoring: {len(mon)} resources (schemas in k8s/schemas/, kubernetes-validate --strict)",
             check_k8s(mon, kv))
        can = _kustomize(ROOT / "k8s" / "canary")
        base = yaml.safe_load((ROOT / "k8s" / "base" / "classifier.yaml").read_text())
        step("k8s/canary: kubernetes-validate --strict, no drift from the base classifier",
             check_k8s(can, kv) + canary_drift(can[0], base))
    compose = _tool("docker-compose")
    if compose is None:
        step("docker-compose", ["missing tool: apt-get install docker-compose"])
    else:
        # credentials as `sketchref env` writes them (the compose file has no defaults), never the caller's
        import os

        with tempfile.TemporaryDirectory() as tmp:
            env = {k: v for k, v in os.environ.items() if not k.startswith("SKETCHREF_")}
            subprocess.run([sys.executable, "-m", "cli", "env", "--file", f"{tmp}/compose.env"], cwd=ROOT,
                           env={**env, "PYTHONPATH": str(ROOT)}, check=True, capture_output=True)
            r = subprocess.run([compose, "--env-file", f"{tmp}/compose.env", "-f", "docker-compose.yml",
                                "--profile", "observability", "config", "-q"],
                               cwd=ROOT, capture_output=True, text=True, env=env)
        step("docker-compose --profile observability config -q", [] if r.returncode == 0 else [r.stderr.strip()])
    print("validate_monitoring: " + ("all checks passed" if not errors else f"{len(errors)} problem(s)"))
    return 0 if not errors else 1


if __name__ == "__main__":
    sys.exit(main())
