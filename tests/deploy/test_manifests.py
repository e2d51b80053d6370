"""The deployment files validate offline: compose, every k8s overlay (strict), every Dockerfile.

Runs scripts/validate_deploy.sh as CI does, then checks that the validators really catch mistakes
(a broken ScaledObject, a container a patch left without an image, a root Dockerfile) so a green run
means something.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))
import validate_deploy  # noqa: E402


def _build(overlay: str) -> list[dict]:
    out = subprocess.run(["kubectl", "kustomize", str(ROOT / "k8s" / "overlays" / overlay)],
                         check=True, capture_output=True, text=True).stdout
    return [d for d in yaml.safe_load_all(out) if d]


def test_validate_deploy_script_passes():
    r = subprocess.run(["bash", str(ROOT / "scripts" / "validate_deploy.sh")], capture_output=True, text=True,
                       timeout=600)
    assert r.returncode == 0, r.stdout[-6000:] + r.stderr[-3000:]
    assert "validate_deploy: all checks passed" in r.stdout
    for overlay in ("dev", "gpu"):
        assert f"k8s overlay {overlay}" in r.stdout


def test_overlays_have_what_operators_need():
    for overlay in ("dev", "gpu"):
        docs = _build(overlay)
        kinds = {(d["kind"], d["metadata"]["name"]) for d in docs}
        for need in [("Namespace", "sketchref"), ("Deployment", "gateway"), ("Service", "gateway"),
                     ("Ingress", "gateway"), ("HorizontalPodAutoscaler", "gateway"),
                     ("Job", "train-detector"), ("Job", "train-classifier"), ("ConfigMap", "sketchref-config")]:
            assert need in kinds, (overlay, need)
        for worker, queue in validate_deploy.QUEUES.items():
            assert ("Deployment", worker) in kinds and ("PodDisruptionBudget", worker) in kinds
            so = next(d for d in docs if d["kind"] == "ScaledObject" and d["metadata"]["name"] == worker)
            assert so["spec"]["triggers"][0]["metadata"]["listName"] == queue
            dep = next(d for d in docs if d["kind"] == "Deployment" and d["metadata"]["name"] == worker)
            pod = dep["spec"]["template"]["spec"]
            c = pod["containers"][0]
            assert c["livenessProbe"] and c["readinessProbe"] and c["lifecycle"]["preStop"]
            assert pod["terminationGracePeriodSeconds"] >= 60
            assert "cpu" in c["resources"]["requests"] and "memory" in c["resources"]["requests"]
            gpu = "nvidia.com/gpu" in c["resources"].get("limits", {})
            assert gpu == (overlay == "gpu" and worker != "recommender"), (overlay, worker)


def test_validator_catches_broken_manifests():
    docs = _build("gpu")
    assert validate_deploy.check_k8s(docs, {"detector", "classifier"}) == []
    so = next(d for d in docs if d["kind"] == "ScaledObject" and d["metadata"]["name"] == "classifier")
    so["spec"]["triggers"][0]["metadata"]["listLength"] = 10          # must be a string
    so["spec"]["triggers"][0]["metadata"]["listName"] = "detect"      # not the classifier's queue
    so["spec"]["scaleTargetRef"]["replicas"] = 3                      # no such field
    dep = next(d for d in docs if d["kind"] == "Deployment" and d["metadata"]["name"] == "detector")
    dep["spec"]["template"]["spec"]["containers"].append({"name": "worker"})  # a patch that missed
    errors = "\n".join(validate_deploy.check_k8s(docs, {"detector", "classifier"}))
    assert "listLength" in errors and "not the queue" in errors and "replicas" in errors
    assert "has no image" in errors


def test_dockerfile_checks_catch_root_and_torch(tmp_path):
    text = (ROOT / "docker" / "gateway.Dockerfile").read_text()
    bad = text.replace("USER 10001:10001", "USER root").replace('".[gateway]"', '".[gateway,classifier]"')
    (tmp_path / "gateway.Dockerfile").write_text(bad)
    errors = "\n".join(validate_deploy.check_dockerfile(tmp_path / "gateway.Dockerfile", ROOT))
    assert "non-root USER" in errors and "must not install torch" in errors
    (tmp_path / "x.Dockerfile").write_text("FROM python:3.11-slim\nRUN echo hi \\\n")
    assert "continued instruction" in " ".join(validate_deploy.check_dockerfile(tmp_path / "x.Dockerfile", ROOT))
