"""Offline checks of the deployment files that generic validators cannot do (scripts/validate_deploy.sh).

``k8s FILE``: a rendered overlay (``kubectl kustomize …``; ``-`` reads stdin):
  - every KEDA ScaledObject against k8s/schemas/keda-scaledobject-v1alpha1.json (strict JSON Schema:
    kubernetes-validate has no schema for this CRD and only warns about it);
  - references inside the build: ScaledObject/HPA/PDB/Service/Ingress targets exist and select the
    pods they mean; each ScaledObject's Redis list is its worker's queue; ConfigMaps and Secrets that
    pods read exist (``sketchref-secrets`` may be created out of band: k8s/base/secret.template.yaml);
    every container names an image; ``--expect-gpu NAME,…`` Deployments request nvidia.com/gpu.
``dockerfiles DIR``: each ``*.Dockerfile`` parses (continuations, known instructions), is multi-stage,
  ends as a non-root USER with a HEALTHCHECK and an ENTRYPOINT or CMD, copies only paths that exist;
  slim images (gateway, recommender) install no torch, CUDA images start from nvidia/cuda.
Exit status 0 when everything holds; each problem is printed on its own line.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

import jsonschema
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from services.common.queue import PIPELINE, stage_tables  # noqa: E402 - the repository root is on the path now

SCHEMA = ROOT / "k8s" / "schemas" / "keda-scaledobject-v1alpha1.json"
EXTERNAL_SECRETS = {"sketchref-secrets"}


def expected_queues(pipeline) -> dict[str, str]:
    """Worker kind (its Deployment's name) -> the queue it consumes, from the pipeline table."""
    return stage_tables(pipeline).worker_queues


QUEUES = expected_queues(PIPELINE)  # from the pipeline table (services/common/queue.py)


def _pod_spec(obj: dict) -> dict | None:
    spec = obj.get("spec", {})
    if obj["kind"] in ("Deployment", "StatefulSet", "DaemonSet", "Job"):
        return spec.get("template", {}).get("spec")
    if obj["kind"] == "CronJob":
        return spec.get("jobTemplate", {}).get("spec", {}).get("template", {}).get("spec")
    return None


def _selects(selector: dict, labels: dict) -> bool:
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


def check_k8s(docs: list[dict], expect_gpu: set[str]) -> list[str]:
    errors: list[str] = []
    by_kind: dict[str, dict[str, dict]] = {}
    for d in docs:
        by_kind.setdefault(d["kind"], {})[d["metadata"]["name"]] = d
    deployments = by_kind.get("Deployment", {})
    configmaps = set(by_kind.get("ConfigMap", {}))
    secrets = set(by_kind.get("Secret", {})) | EXTERNAL_SECRETS

    def pod_labels(name: str) -> dict:
        return deployments[name]["spec"]["template"]["metadata"].get("labels", {})

    # Workloads: images, selectors, referenced ConfigMaps/Secrets.
    for d in docs:
        pod = _pod_spec(d)
        if pod is None:
            continue
        where = f"{d['kind']}/{d['metadata']['name']}"
        if d["kind"] == "Deployment" and not _selects(d["spec"]["selector"].get("matchLabels", {}),
                                                      d["spec"]["template"]["metadata"].get("labels", {})):
            errors.append(f"{where}: selector does not match its pod template labels")
        for c in pod.get("initContainers", []) + pod.get("containers", []):
            if not c.get("image"):
                errors.append(f"{where}: container {c.get('name')!r} has no image (a stray patch?)")
            for ref in c.get("envFrom", []):
                if "configMapRef" in ref and ref["configMapRef"]["name"] not in configmaps:
                    errors.append(f"{where}: envFrom ConfigMap {ref['configMapRef']['name']!r} is not in the build")
                if "secretRef" in ref and ref["secretRef"]["name"] not in secrets:
                    errors.append(f"{where}: envFrom Secret {ref['secretRef']['name']!r} is not in the build")
            for e in c.get("env", []):
                src = e.get("valueFrom", {})
                if "configMapKeyRef" in src and src["configMapKeyRef"]["name"] not in configmaps:
                    errors.append(f"{where}: env {e['name']} reads a missing ConfigMap")
                if "secretKeyRef" in src and src["secretKeyRef"]["name"] not in secrets:
                    errors.append(f"{where}: env {e['name']} reads a missing Secret")
        if d["kind"] == "Deployment" and d["metadata"]["name"] in expect_gpu:
            res = pod["containers"][0].get("resources", {})
            if "nvidia.com/gpu" not in res.get("limits", {}):
                errors.append(f"{where}: expected an nvidia.com/gpu limit")
            if not pod.get("nodeSelector") or not pod.get("tolerations"):
                errors.append(f"{where}: a GPU worker needs a nodeSelector and tolerations")

    # KEDA ScaledObjects: schema, then what they point at.
    schema = json.loads(SCHEMA.read_text())
    validator = jsonschema.Draft202012Validator(schema)
    for name, so in by_kind.get("ScaledObject", {}).items():
        for err in sorted(validator.iter_errors(so), key=lambda e: list(e.path)):
            path = ".".join(str(p) for p in err.path) or "(root)"
            errors.append(f"ScaledObject/{name}: {path}: {err.message}")
        target = so.get("spec", {}).get("scaleTargetRef", {}).get("name")
        if target not in deployments:
            errors.append(f"ScaledObject/{name}: scaleTargetRef {target!r} is not a Deployment in the build")
            continue
        if target in by_kind.get("HorizontalPodAutoscaler", {}):
            errors.append(f"ScaledObject/{name}: Deployment {target} also has an HPA (they would fight)")
        queue = pod_labels(target).get("sketchref.io/queue")
        container = deployments[target]["spec"]["template"]["spec"]["containers"][0]
        env_names = {e["name"] for e in container.get("env", [])}
        for ref in container.get("envFrom", []):
            cm = by_kind.get("ConfigMap", {}).get(ref.get("configMapRef", {}).get("name"))
            if cm:
                env_names |= set(cm.get("data", {}))
        for trig in so.get("spec", {}).get("triggers", []):
            meta = trig.get("metadata", {})
            if trig.get("type") != "redis":
                continue
            if meta.get("listName") != queue or QUEUES.get(target, queue) != queue:
                errors.append(f"ScaledObject/{name}: listName {meta.get('listName')!r} is not the queue "
                              f"{queue!r} that Deployment {target} consumes")
            for key in ("addressFromEnv", "hostFromEnv", "portFromEnv", "passwordFromEnv"):
                if key in meta and meta[key] not in env_names:
                    errors.append(f"ScaledObject/{name}: {key}={meta[key]} is not set in {target}'s container")

    for name, hpa in by_kind.get("HorizontalPodAutoscaler", {}).items():
        if hpa["spec"]["scaleTargetRef"]["name"] not in deployments:
            errors.append(f"HorizontalPodAutoscaler/{name}: target is not a Deployment in the build")
    for kind in ("PodDisruptionBudget", "Service"):
        for name, obj in by_kind.get(kind, {}).items():
            sel = obj["spec"]["selector"]
            sel = sel.get("matchLabels", {}) if kind == "PodDisruptionBudget" else sel
            if not any(_selects(sel, pod_labels(dn)) for dn in deployments):
                errors.append(f"{kind}/{name}: selects no Deployment's pods")
    services = by_kind.get("Service", {})
    for name, ing in by_kind.get("Ingress", {}).items():
        for rule in ing["spec"].get("rules", []):
            for p in rule.get("http", {}).get("paths", []):
                svc = p["backend"]["service"]
                port_names = {pt.get("name") for pt in services.get(svc["name"], {}).get("spec", {}).get("ports", [])}
                if svc["name"] not in services:
                    errors.append(f"Ingress/{name}: backend Service {svc['name']!r} is not in the build")
                elif "name" in svc["port"] and svc["port"]["name"] not in port_names:
                    errors.append(f"Ingress/{name}: Service {svc['name']} has no port {svc['port']['name']!r}")
    return errors


INSTRUCTIONS = {"FROM", "RUN", "CMD", "LABEL", "EXPOSE", "ENV", "ADD", "COPY", "ENTRYPOINT", "VOLUME", "USER",
                "WORKDIR", "ARG", "ONBUILD", "STOPSIGNAL", "HEALTHCHECK", "SHELL", "MAINTAINER"}


def parse_dockerfile(text: str) -> list[tuple[int, str, str]]:
    """(line number, INSTRUCTION, arguments) with continuations joined and comments dropped."""
    out, buf, start = [], "", 0
    for no, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not buf and (not line or line.startswith("#")):
            continue
        if buf and line.startswith("#"):
            continue
        if not buf:
            start = no
        if line.endswith("\\"):
            buf += line[:-1] + " "
            continue
        buf += line
        word, _, rest = buf.partition(" ")
        out.append((start, word.upper(), rest.strip()))
        buf = ""
    if buf:
        raise ValueError(f"line {start}: the file ends inside a continued instruction")
    return out


def check_dockerfile(path: Path, context: Path) -> list[str]:
    errors: list[str] = []
    try:
        instrs = parse_dockerfile(path.read_text())
    except ValueError as exc:
        return [f"{path.name}: {exc}"]
    for no, word, rest in instrs:
        if word not in INSTRUCTIONS:
            errors.append(f"{path.name}:{no}: unknown instruction {word}")
        if word in ("CMD", "ENTRYPOINT", "HEALTHCHECK") and rest.lstrip().startswith("["):
            body = rest if word != "HEALTHCHECK" else rest[rest.index("CMD") + 3:] if "CMD" in rest else rest
            try:
                json.loads(body.strip())
            except (json.JSONDecodeError, ValueError):
                errors.append(f"{path.name}:{no}: {word} exec form is not a JSON array")
        if word in ("COPY", "ADD") and "--from=" not in rest:
            srcs = [a for a in rest.split() if not a.startswith("--")][:-1]
            for s in srcs:
                if not (context / s).exists():
                    errors.append(f"{path.name}:{no}: COPY source {s!r} does not exist in the build context")
    froms = [(no, rest) for no, word, rest in instrs if word == "FROM"]
    if not froms or instrs[0][1] not in ("FROM", "ARG"):
        return errors + [f"{path.name}: must start with FROM (or ARG before FROM)"]
    if len(froms) < 2:
        errors.append(f"{path.name}: not multi-stage (one FROM)")
    last_from = max(no for no, _ in froms)
    final = [(no, w, r) for no, w, r in instrs if no >= last_from]
    users = [r for _, w, r in final if w == "USER"]
    if not users or users[-1].split(":")[0] in ("root", "0"):
        errors.append(f"{path.name}: the final stage must switch to a non-root USER")
    if not any(w == "HEALTHCHECK" for _, w, _ in final):
        errors.append(f"{path.name}: the final stage has no HEALTHCHECK (use HEALTHCHECK NONE for batch images)")
    if not any(w in ("CMD", "ENTRYPOINT") for _, w, _ in final):
        errors.append(f"{path.name}: no CMD or ENTRYPOINT")
    text = path.read_text()
    args = {m.group(1): m.group(2) for m in re.finditer(r"^ARG (\w+)=(\S+)", text, re.M)}
    base = args.get(froms[0][1].split()[0].strip("${}"), froms[0][1].split()[0])
    name = path.name.split(".")[0]
    installs = " ".join(r for _, w, r in instrs if w == "RUN" and "pip install" in r)
    if name in ("gateway", "recommender"):
        pip_args = " ".join(re.findall(r"pip install([^&;|]*)", installs))
        if re.search(r"\btorch", pip_args) or re.search(r"\[[^\]]*(detector|classifier|training|dev)", pip_args):
            errors.append(f"{path.name}: a slim image must not install torch or a torch extra")
        if not base.startswith("python:") or "slim" not in base:
            errors.append(f"{path.name}: expected a python:*-slim base, got {base}")
    elif name in ("detector", "classifier", "training"):
        if not base.startswith("nvidia/cuda:"):
            errors.append(f"{path.name}: expected an nvidia/cuda runtime base, got {base}")
    return errors


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    k = sub.add_parser("k8s")
    k.add_argument("file")
    k.add_argument("--expect-gpu", default="", help="comma-separated Deployments that must request a GPU")
    d = sub.add_parser("dockerfiles")
    d.add_argument("dir", type=Path)
    d.add_argument("--context", type=Path, default=ROOT)
    args = parser.parse_args(argv)
    if args.cmd == "k8s":
        text = sys.stdin.read() if args.file == "-" else Path(args.file).read_text()
        docs = [x for x in yaml.safe_load_all(text) if x]
        errors = check_k8s(docs, {n for n in args.expect_gpu.split(",") if n})
        label = f"{len(docs)} resources, {sum(d['kind'] == 'ScaledObject' for d in docs)} ScaledObjects"
    else:
        files = sorted(args.dir.glob("*.Dockerfile"))
        errors = [e for f in files for e in check_dockerfile(f, args.context)]
        if not files:
            errors.append(f"no *.Dockerfile in {args.dir}")
        label = f"{len(files)} Dockerfiles"
    for e in errors:
        print(f"ERROR {e}")
    print(f"{'FAILED' if errors else 'ok'}: {label}")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
