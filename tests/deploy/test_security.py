"""The rendered k8s overlays are locked down: NetworkPolicies, Redis password, TLS, no /metrics outside.

Evaluates the NetworkPolicies of each overlay the way a CNI does (a pod's allowed traffic is the
union of the rules of every policy that selects it; no policy of a type = that direction open), so
the test fails if a pod could reach more than it needs or take traffic from where it should not.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
STATIC = ROOT / "services" / "gateway" / "static"
OVERLAYS = ("dev", "gpu")


def _build(overlay: str) -> list[dict]:
    out = subprocess.run(["kubectl", "kustomize", str(ROOT / "k8s" / "overlays" / overlay)],
                         check=True, capture_output=True, text=True).stdout
    return [d for d in yaml.safe_load_all(out) if d]


def _selects(selector: dict, labels: dict) -> bool:
    return all(labels.get(k) == v for k, v in selector.get("matchLabels", {}).items())


def _pods(docs):
    for d in docs:
        if d["kind"] in ("Deployment", "Job"):
            yield d["metadata"]["name"], d["spec"]["template"]["metadata"].get("labels", {}), d


def _rules(docs, labels: dict, direction: str) -> list[dict] | None:
    """The rules of ``direction`` ("ingress"/"egress") that apply to pods with ``labels``;
    None when no policy of that type selects them (traffic open)."""
    policy_type = direction.capitalize()
    rules, selected = [], False
    for d in docs:
        if d["kind"] != "NetworkPolicy":
            continue
        spec = d["spec"]
        if policy_type in spec.get("policyTypes", []) and _selects(spec["podSelector"], labels):
            selected = True
            rules += spec.get(direction, [])
    return rules if selected else None


def _peer(p: dict) -> str:
    if "ipBlock" in p:
        return "external" if p["ipBlock"]["cidr"] == "0.0.0.0/0" else p["ipBlock"]["cidr"]
    ns = p.get("namespaceSelector", {}).get("matchLabels", {}).get("kubernetes.io/metadata.name", "")
    pod = p.get("podSelector", {}).get("matchLabels", {})
    name = pod.get("app.kubernetes.io/name") or pod.get("k8s-app") or pod.get("app.kubernetes.io/part-of", "")
    if ns:
        return f"{ns}/{name}" if name else ns
    return name or "any"


def _reach(rules: list[dict], side: str) -> set[tuple[str, str]]:
    out = set()
    for r in rules:
        for peer in r.get(side, [{}]):
            for port in r.get("ports", [{"port": "any"}]):
                out.add((_peer(peer), str(port["port"])))
    return out


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_network_policies_allow_only_what_each_pod_needs(overlay):
    docs = _build(overlay)
    names = {d["metadata"]["name"] for d in docs if d["kind"] == "NetworkPolicy"}
    assert {"default-deny", "allow-dns", "gateway-ingress"} <= names
    dns = {("kube-system/kube-dns", "53")}
    redis = {("redis", "6379")} | ({("data/redis", "6379")} if overlay == "gpu" else set())
    s3 = {("s3", "8333")} | ({("external", "443")} if overlay == "gpu" else set())
    for name, labels, _ in _pods(docs):
        ingress, egress = _rules(docs, labels, "ingress"), _rules(docs, labels, "egress")
        assert ingress is not None and egress is not None, f"{name}: not covered by the default deny"
        got_in, got_out = _reach(ingress, "from"), _reach(egress, "to")
        if name == "gateway":
            assert got_in == {("ingress-nginx", "http"), ("monitoring", "http")}, got_in
        elif labels.get("app.kubernetes.io/component") == "worker":
            assert got_in == {("monitoring", "metrics")}, (name, got_in)
        elif name in ("redis", "s3"):
            assert ("sketchref", "6379" if name == "redis" else "8333") in got_in, got_in
            assert all(p != "external" for p, _ in got_in)
        else:
            assert got_in == set(), (name, got_in)
        if name in ("redis", "s3"):
            continue
        allowed = dns | redis | s3 | ({("external", "443")} if name == "recommender" else set())
        assert got_out <= allowed, (name, got_out - allowed)
        assert dns <= got_out and ({("redis", "6379")} <= got_out or {("data/redis", "6379")} <= got_out), name
    # the recommender reaches Unsplash; detector and classifier nothing outside (gpu: S3 is outside)
    rec = next(lbl for n, lbl, _ in _pods(docs) if n == "recommender")
    assert ("external", "443") in _reach(_rules(docs, rec, "egress"), "to")
    if overlay == "dev":
        det = next(lbl for n, lbl, _ in _pods(docs) if n == "detector")
        assert not any(p == "external" for p, _ in _reach(_rules(docs, det, "egress"), "to"))


def _routed(paths: list[dict], url: str) -> bool:
    for p in paths:
        if p["pathType"] == "Exact" and url == p["path"]:
            return True
        if p["pathType"] == "Prefix" and (url == p["path"] or url.startswith(p["path"].rstrip("/") + "/")):
            return True
    return False


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_ingress_is_tls_and_routes_the_app_but_not_metrics(overlay):
    ing = next(d for d in _build(overlay) if d["kind"] == "Ingress")
    assert ing["metadata"]["annotations"]["cert-manager.io/cluster-issuer"]
    tls = ing["spec"]["tls"][0]
    rule = ing["spec"]["rules"][0]
    assert tls["secretName"] and tls["hosts"] == [rule["host"]]
    paths = rule["http"]["paths"]
    for private in ("/metrics", "/readyz", "/metrics/", "/readyz?x"):
        assert not _routed(paths, private.split("?")[0]), private
    public = ["/", "/v1/jobs", "/v1/jobs/abc", "/docs", "/openapi.json", "/healthz"]
    public += ["/" + f.name + ("/x" if f.is_dir() else "") for f in STATIC.iterdir()]
    for url in public:
        assert _routed(paths, url), f"{url} is not routed by the Ingress (a new static file? add it)"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_redis_url_carries_the_password_from_the_secret(overlay):
    docs = _build(overlay)
    for name in ("gateway", "detector", "classifier", "recommender"):
        dep = next(d for d in docs if d["kind"] == "Deployment" and d["metadata"]["name"] == name)
        env = {e["name"]: e for e in dep["spec"]["template"]["spec"]["containers"][0]["env"]}
        pw = env["SKETCHREF_REDIS_PASSWORD"]["valueFrom"]["secretKeyRef"]
        assert pw["name"] == "sketchref-secrets" and not pw.get("optional")
        names = list(env)
        assert names.index("SKETCHREF_REDIS_PASSWORD") < names.index("SKETCHREF_REDIS_URL")  # $(VAR) order
        assert "$(SKETCHREF_REDIS_PASSWORD)@" in env["SKETCHREF_REDIS_URL"]["value"]
    cm = next(d for d in docs if d["kind"] == "ConfigMap" and d["metadata"]["name"] == "sketchref-config")
    assert "SKETCHREF_REDIS_URL" not in cm["data"]  # no password-less URL left to win
    for so in (d for d in docs if d["kind"] == "ScaledObject"):
        assert so["spec"]["triggers"][0]["metadata"]["passwordFromEnv"] == "SKETCHREF_REDIS_PASSWORD"
    if overlay == "dev":
        redis = next(d for d in docs if d["kind"] == "Deployment" and d["metadata"]["name"] == "redis")
        c = redis["spec"]["template"]["spec"]["containers"][0]
        assert "--requirepass" in c["args"]
