"""The alert rules and the Grafana dashboard of sketchref, written from one place.

    python scripts/monitoring.py write    # (re)write the files below from this script and the budgets
    python scripts/monitoring.py check    # validate them offline (scripts/validate_monitoring.py)

Writes:

- ``k8s/monitoring/rules.yaml``: Prometheus alerting rules (plain rule file: Prometheus in compose
  and ``sketchref up --prometheus`` load it; ``promtool check rules`` and ``promtool test rules``
  with ``rules.test.yaml`` check it);
- ``k8s/monitoring/prometheusrule.yaml``: the same groups as a Prometheus Operator ``PrometheusRule``;
- ``k8s/monitoring/dashboards/sketchref.json``: the Grafana dashboard (Grafana in compose, the
  kustomization's ConfigMap for a Grafana sidecar, or import by hand);
- ``k8s/canary/classifier-canary.yaml``: the classifier canary Deployment, derived from
  ``k8s/base/classifier.yaml`` (rerun ``write`` after changing the base).

Stage p95 budgets and the failure-rate threshold are the shared settings ``SKETCHREF_BUDGET_*``
(:class:`services.common.settings.CommonSettings`). Every alert's ``runbook_url`` points at its section of docs/operators.md.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from services.common.settings import CommonSettings  # noqa: E402

MON = ROOT / "k8s" / "monitoring"
RUNBOOK = "docs/operators.md#"  # relative to the repository; prefix your docs host to make it a link
QUEUES = ("detect", "classify", "recommend")


def _alert(name: str, expr: str, for_: str, severity: str, summary: str, description: str) -> dict:
    return {"alert": name, "expr": expr, "for": for_, "labels": {"severity": severity},
            "annotations": {"summary": summary, "description": description,
                            "runbook_url": RUNBOOK + "alert-" + name.lower()}}


def rules(b: CommonSettings | None = None) -> dict:
    b = b or CommonSettings()
    failed = 'max(rate(sketchref_jobs_total{status="failed"}[10m]))'
    ok = 'max(rate(sketchref_jobs_total{status="succeeded"}[10m]))'
    out = [
        _alert("SketchrefQueueGrowing",
               "max by (queue) (deriv(sketchref_queue_depth[5m])) > 0 and max by (queue) (sketchref_queue_depth) > 5",
               "5m", "warning", "Queue {{ $labels.queue }} has grown for 5 minutes",
               "{{ $labels.queue }} grows by {{ $value }} messages per second: its workers cannot keep up."),
        _alert("SketchrefJobFailureRate",
               f"{failed} / clamp_min({failed} + {ok}, 1e-9) > {b.budget_failure_rate}",
               "5m", "critical", f"More than {b.budget_failure_rate:.0%} of jobs fail",
               "{{ $value | humanizePercentage }} of the jobs finished in the last 10 minutes failed."),
    ]
    for stage, budget in b.stage_p95_budgets().items():
        out.append(_alert(
            "SketchrefStageP95OverBudget",
            f'histogram_quantile(0.95, sum by (le, stage, model_version) (rate(sketchref_worker_stage_seconds_bucket'
            f'{{stage="{stage}",outcome="done"}}[10m]))) > {budget}',
            "10m", "warning", f"{stage} p95 over its budget of {budget} s",
            "{{ $labels.stage }} p95 is {{ $value | humanizeDuration }} on model {{ $labels.model_version }}."))
        out[-1]["labels"]["stage"] = stage
    out += [
        _alert("SketchrefNoWorkerForQueue",
               "max by (queue) (sketchref_queue_depth) unless on (queue) (sum by (queue) (sketchref_workers) > 0)",
               "3m", "critical", "No live worker consumes {{ $labels.queue }}",
               "No worker heartbeat for {{ $labels.queue }} for 3 minutes; its jobs wait until their deadline."),
        _alert("SketchrefReadinessFlapping",
               '(sum by (pod) (changes(kube_pod_status_ready{namespace="sketchref",condition="true"}[15m])) > 4)'
               ' or (sum by (instance) (changes(up{job="sketchref-workers"}[15m])) > 4)',
               "0m", "warning", "{{ $labels.pod }}{{ $labels.instance }} keeps changing readiness",
               "Ready/not-ready changed {{ $value }} times in 15 minutes: a crash loop, a probe timeout "
               "too short for the node, or a broker connection that keeps dropping."),
        _alert("SketchrefWorkerRestarting",
               '(sum by (kind) (changes(sketchref_worker_start_time_seconds[30m])) > 2) or '
               '(sum by (container) (increase(kube_pod_container_status_restarts_total{namespace="sketchref"}[30m]))'
               ' > 2)',
               "0m", "warning", "Workers restart repeatedly",
               "{{ $value }} restarts in 30 minutes ({{ $labels.kind }}{{ $labels.container }})."),
        _alert("SketchrefRedisUnreachable", "max(sketchref_redis_up) == 0", "2m", "critical",
               "The gateway cannot read Redis", "Nothing can be queued or answered; /readyz fails too."),
    ]
    return {"groups": [{"name": "sketchref", "rules": out}]}


def prometheus_rule(r: dict) -> dict:
    return {"apiVersion": "monitoring.coreos.com/v1", "kind": "PrometheusRule",
            "metadata": {"name": "sketchref", "labels": {"app.kubernetes.io/name": "sketchref",
                                                         "app.kubernetes.io/component": "monitoring"}},
            "spec": r}


# -- dashboard -------------------------------------------------------------------------------------
DS = {"type": "prometheus", "uid": "${datasource}"}


def _panel(pid: int, title: str, targets: list[tuple[str, str]], x: int, y: int, w: int = 8, h: int = 8,
           unit: str = "short", kind: str = "timeseries", description: str = "") -> dict:
    p = {"id": pid, "type": kind, "title": title, "description": description, "datasource": DS,
         "gridPos": {"h": h, "w": w, "x": x, "y": y},
         "fieldConfig": {"defaults": {"unit": unit}, "overrides": []}, "options": {},
         "targets": [{"refId": chr(65 + i), "datasource": DS, "expr": e, "legendFormat": leg}
                     for i, (e, leg) in enumerate(targets)]}
    if kind == "table":
        p["targets"] = [{**t, "format": "table", "instant": True} for t in p["targets"]]
    return p


def _q(quantile: float) -> str:
    return (f"histogram_quantile({quantile}, sum by (le, stage) "
            '(rate(sketchref_worker_stage_seconds_bucket{outcome="done"}[5m])))')


def dashboard() -> dict:
    panels = [
        _panel(1, "Queue depth per queue", [("max by (queue) (sketchref_queue_depth)", "{{queue}}")], 0, 0,
               description="Messages waiting (canary queues as <stage>@<version>)."),
        _panel(2, "Jobs/s by status", [('max by (status) (rate(sketchref_jobs_total{status=~"created|succeeded|failed"}'
                                        '[1m]))', "{{status}}")], 8, 0, unit="reqps"),
        _panel(3, "Active jobs", [("max(sketchref_jobs_active)", "active")], 16, 0),
        _panel(4, "Stage p50 / p95", [(_q(0.5), "{{stage}} p50"), (_q(0.95), "{{stage}} p95")], 0, 8, w=12,
               unit="s"),
        _panel(5, "Stage p95 by model version",
               [("histogram_quantile(0.95, sum by (le, stage, model_version) "
                 '(rate(sketchref_worker_stage_seconds_bucket{outcome="done"}[5m])))', "{{stage}} {{model_version}}")],
               12, 8, w=12, unit="s"),
        _panel(6, "Live workers per queue", [("sum by (queue) (sketchref_workers)", "{{queue}}")], 0, 16),
        _panel(7, "Worker (re)starts, last hour",
               [("sum by (kind) (changes(sketchref_worker_start_time_seconds[1h]))", "{{kind}}"),
                ('sum by (container) (increase(kube_pod_container_status_restarts_total{namespace="sketchref"}[1h]))',
                 "k8s {{container}}")], 8, 16),
        _panel(8, "Stage runs/s by model version",
               [('sum by (stage, model_version) (rate(sketchref_worker_stage_seconds_count{outcome="done"}[5m]))',
                 "{{stage}} {{model_version}}")], 16, 16, unit="reqps"),
        _panel(9, "Model versions serving", [("sum by (kind, model_version, queue) (sketchref_workers)", "")],
               0, 24, w=12, kind="table"),
        _panel(10, "Route weights (canary split)", [("max by (kind, model_version, role) (sketchref_model_route_weight)",
                                                     "{{kind}} {{model_version}} {{role}}")], 12, 24, w=12,
               unit="percentunit"),
        _panel(11, "Unsplash calls/s by status", [("sum by (status) (rate(sketchref_unsplash_requests_total[5m]))",
                                                   "{{status}}")], 0, 32, unit="reqps"),
        _panel(12, "Reference cache hit rate",
               [('sum(rate(sketchref_recommender_cache_total{outcome="hit"}[5m])) / '
                 "clamp_min(sum(rate(sketchref_recommender_cache_total[5m])), 1e-9)", "hit rate")], 8, 32,
               unit="percentunit"),
        _panel(13, "Rate-limited requests/s", [("max(rate(sketchref_rate_limited_total[5m]))", "429s")], 16, 32,
               unit="reqps"),
    ]
    return {
        "uid": "sketchref-overview", "title": "sketchref", "tags": ["sketchref"], "timezone": "utc",
        "schemaVersion": 39, "version": 1, "editable": True, "refresh": "10s",
        "time": {"from": "now-30m", "to": "now"}, "panels": panels,
        "templating": {"list": [{"name": "datasource", "type": "datasource", "query": "prometheus",
                                 "label": "Prometheus", "current": {}, "hide": 0}]},
        "annotations": {"list": []},
    }


CANARY_HEAD = """# A classifier canary: serves registry version {v} (s3://<bucket>/models/classifier/{v}/) on its own
# queue `classify@{v}`; the gateway sends it the share of new jobs set by
#   sketchref models promote classifier {v} --weight 0.2
# and none after `sketchref models rollback classifier` (within 2 s, no restart of anything).
# Written by scripts/monitoring.py from k8s/base/classifier.yaml: the same pod but for its name,
# labels, `--model-version` and the queue its preStop drains. To try another version, patch the
# three `{v}`s in an overlay (or change CANARY_VERSION there), then:  kubectl apply -k k8s/canary
"""
CANARY_VERSION = "v2"


def canary(version: str = CANARY_VERSION) -> dict:
    """The canary Deployment, derived from the base classifier so the two never drift apart."""
    import copy

    d = copy.deepcopy(yaml.safe_load((ROOT / "k8s" / "base" / "classifier.yaml").read_text()))
    name = {"app.kubernetes.io/name": "classifier-canary"}
    d["metadata"]["name"] = "classifier-canary"
    d["metadata"]["labels"] = {**d["metadata"].get("labels", {}), **name, "sketchref.io/model-version": version}
    d["spec"]["replicas"] = 1
    d["spec"]["selector"]["matchLabels"] = dict(name)
    labels = d["spec"]["template"]["metadata"]["labels"]
    labels.pop("sketchref.io/queue", None)  # a label value cannot hold the "@" of classify@v2
    labels.update({**name, "sketchref.io/model-version": version})
    c = d["spec"]["template"]["spec"]["containers"][0]
    c["args"] = ["worker", "classifier", "--model-version", version]
    c["lifecycle"]["preStop"]["exec"]["command"] = ["python", "-m", "services.common.probe", "drain",
                                                    "--queue", f"classify@{version}"]
    return d


def files(b: CommonSettings | None = None) -> dict[Path, str]:
    r = rules(b)
    head = "# Written by scripts/monitoring.py (budgets: SKETCHREF_BUDGET_*, services/common/settings.py); do not edit by hand.\n"
    return {
        MON / "rules.yaml": head + yaml.safe_dump(r, sort_keys=False, width=200),
        MON / "prometheusrule.yaml": head + yaml.safe_dump(prometheus_rule(r), sort_keys=False, width=200),
        MON / "dashboards" / "sketchref.json": json.dumps(dashboard(), indent=1) + "\n",
        ROOT / "k8s" / "canary" / "classifier-canary.yaml":
            CANARY_HEAD.format(v=CANARY_VERSION) + yaml.safe_dump(canary(), sort_keys=False, width=120),
    }


def main(argv: list[str]) -> int:
    if argv[:1] == ["write"]:
        for path, text in files().items():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
            print(f"wrote {path.relative_to(ROOT)}")
        return 0
    if argv[:1] == ["check"]:
        import validate_monitoring

        return validate_monitoring.main()
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
