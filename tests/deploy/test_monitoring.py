"""The monitoring files validate offline, and the validators catch what they claim to.

Runs scripts/validate_monitoring.py (generated files in sync, promtool check + unit tests of the
alerts, the Prometheus Operator kinds against k8s/schemas, the canary Deployment, the dashboard,
``docker-compose --profile observability config -q``), then breaks copies to see each check fail.
"""

from __future__ import annotations

import copy
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))
import monitoring  # noqa: E402
import validate_monitoring as vm  # noqa: E402


def test_validate_monitoring_passes():
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}"}
    r = subprocess.run([sys.executable, str(ROOT / "scripts" / "validate_monitoring.py")], capture_output=True,
                       text=True, timeout=300, env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "validate_monitoring: all checks passed" in r.stdout
    assert "promtool test rules" in r.stdout or "promtool not found" in r.stdout


def test_dashboard_has_the_panels_operators_asked_for():
    d = json.loads((ROOT / "k8s" / "monitoring" / "dashboards" / "sketchref.json").read_text())
    exprs = " ".join(t["expr"] for p in d["panels"] for t in p["targets"])
    for need in ("sketchref_queue_depth", "sketchref_jobs_total", "histogram_quantile(0.5",
                 "histogram_quantile(0.95", "sketchref_workers", "kube_pod_container_status_restarts_total",
                 "model_version", "sketchref_unsplash_requests_total", 'outcome="hit"', "sketchref_rate_limited_total"):
        assert need in exprs, need


def test_dashboard_checks_catch_mistakes():
    d = monitoring.dashboard()
    assert vm.check_dashboard(d) == []
    bad = copy.deepcopy(d)
    bad["panels"][1]["gridPos"] = dict(bad["panels"][0]["gridPos"])           # on top of panel 1
    bad["panels"][2]["targets"][0]["expr"] = "rate(sketchref_jobz_total[1m])"  # a typo'd metric
    bad["panels"][3]["id"] = 1                                                  # duplicate id
    bad["panels"][4]["datasource"]["uid"] = "${nope}"
    errors = "\n".join(vm.check_dashboard(bad))
    assert "overlaps" in errors and "sketchref_jobz_total" in errors and "duplicate id" in errors
    assert "${nope}" in errors


def test_metric_names_parser():
    assert vm.metric_names('histogram_quantile(0.95, sum by (le, stage) (rate(a_b_bucket{x="y"}[5m]))) > 0.5') \
        == {"a_b_bucket"}
    assert vm.metric_names("max by (queue) (q) unless on (queue) (sum by (queue) (w) > 0)") == {"q", "w"}


def test_rule_checks_catch_mistakes():
    r = monitoring.rules()
    assert vm.check_rules_structure(r) == []
    r["groups"][0]["rules"][0]["annotations"].pop("runbook_url")
    r["groups"][0]["rules"][1]["expr"] = "rate(sketchref_jobs_totl[5m]) > 0"
    errors = "\n".join(vm.check_rules_structure(r))
    assert "no runbook_url" in errors and "sketchref_jobs_totl" in errors


def test_crd_schemas_and_canary_drift_are_enforced():
    kv = str(Path(sys.executable).parent / "kubernetes-validate")
    docs = [d for d in yaml.safe_load_all(subprocess.run(["kubectl", "kustomize", str(ROOT / "k8s" / "monitoring")],
                                                        capture_output=True, text=True, check=True).stdout) if d]
    pm = next(d for d in docs if d["kind"] == "PodMonitor")
    pm["spec"]["podMetricsEndpoints"][0]["intervall"] = "15s"  # typo'd field
    pr = next(d for d in docs if d["kind"] == "PrometheusRule")
    pr["spec"]["groups"][0]["rules"][0]["for"] = "5 minutes"
    errors = "\n".join(vm.check_k8s([pm, pr], kv))
    assert "intervall" in errors and "5 minutes" in errors
    base = yaml.safe_load((ROOT / "k8s" / "base" / "classifier.yaml").read_text())
    canary = yaml.safe_load((ROOT / "k8s" / "canary" / "classifier-canary.yaml").read_text())
    assert vm.canary_drift(canary, base) == []
    canary["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]["memory"] = "1Gi"
    canary["spec"]["template"]["spec"]["containers"][0]["lifecycle"]["preStop"]["exec"]["command"][-1] = "classify"
    errors = "\n".join(vm.canary_drift(canary, base))
    assert "drifted" in errors and "own queue" in errors


def test_every_alert_has_a_runbook_section_and_every_exported_metric_is_known():
    doc = (ROOT / "docs" / "operators.md").read_text()
    anchors = set(re.findall(r'<a id="([a-z0-9-]+)"></a>', doc))
    for rule in monitoring.rules()["groups"][0]["rules"]:
        assert "alert-" + rule["alert"].lower() in anchors, rule["alert"]
    exported = set()
    for f in ("services/common/worker_metrics.py", "services/gateway/metrics.py", "services/gateway/fleet_metrics.py"):
        exported |= set(re.findall(r'"(sketchref_[a-z_]+)"', (ROOT / f).read_text()))
    known = {re.sub(r"_(total|bucket|count)$", "", m) for m in vm.KNOWN_METRICS}
    assert exported and exported <= known, exported - known
