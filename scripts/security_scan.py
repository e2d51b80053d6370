"""Static security checks: bandit on the Python, checkov on the rendered k8s overlays and Dockerfiles.

    python scripts/security_scan.py            # both; exit 1 on any finding outside the allow-list
    python scripts/security_scan.py bandit     # or one of them: bandit | checkov

- bandit (PyPI): every MEDIUM or HIGH severity finding in cli/, services/, training/, scripts/ is a
  failure; a line that is fine on purpose carries ``# nosec BXXX`` with its reason beside it.
- checkov (PyPI; its pinned dependencies clash with the project's, so it lives in its own venv:
  ``make security-tools`` -> .cache/tools/checkov): each overlay rendered by ``kubectl kustomize``,
  and docker/*.Dockerfile. A failed check is allowed only if security/checkov-allowlist.yaml lists
  it (with a reason, optionally limited to some resources); an allow-listed check that no longer
  fails is reported too, so the list does not rot.
Runs offline (``--skip-download``). Prints one line per finding and a summary.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
ALLOWLIST = ROOT / "security" / "checkov-allowlist.yaml"
BANDIT_PATHS = ("cli", "services", "training", "scripts")


def tool(name: str, *extra: Path) -> str:
    here = Path(sys.executable).parent / name
    for cand in (os.environ.get(name.upper()), str(here), *(str(e) for e in extra), shutil.which(name)):
        if cand and Path(cand).exists():
            return cand
    raise FileNotFoundError(f"{name} not found (make security-tools)")


def run_bandit(paths: tuple[str, ...] = BANDIT_PATHS, cwd: Path = ROOT) -> list[str]:
    exe = tool("bandit")
    r = subprocess.run([exe, "-r", *paths, "-f", "json", "-q", "--severity-level", "medium"],
                       cwd=cwd, capture_output=True, text=True)
    if r.returncode not in (0, 1) or not r.stdout.strip():
        return [f"bandit did not run: {r.stderr.strip()[-500:]}"]
    out = []
    for f in json.loads(r.stdout)["results"]:
        if f["issue_severity"] in ("MEDIUM", "HIGH"):
            out.append(f"bandit {f['filename']}:{f['line_number']}: {f['test_id']} "
                       f"[{f['issue_severity']}] {f['issue_text']}")
    return out


def _checkov(files: list[Path] | None, directory: Path | None, framework: str) -> list[dict]:
    exe = tool("checkov", ROOT / ".cache" / "tools" / "checkov" / "bin" / "checkov")
    cmd = [exe, "--framework", framework, "-o", "json", "--quiet", "--skip-download", "--compact"]
    cmd += [a for f in files or [] for a in ("-f", str(f))]
    cmd += ["-d", str(directory)] if directory else []
    env = {**os.environ, "BC_SKIP_MAPPING": "TRUE", "CHECKOV_RUN_SCA_PACKAGE_SCAN_V2": "false"}
    r = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT, timeout=900)
    if not r.stdout.strip().startswith(("{", "[")):
        raise RuntimeError(f"checkov did not run: {r.stderr.strip()[-800:]}")
    reports = json.loads(r.stdout)
    reports = reports if isinstance(reports, list) else [reports]
    return [c for rep in reports for c in rep.get("results", {}).get("failed_checks", [])]


def run_checkov() -> tuple[list[str], dict[str, int]]:
    allow = yaml.safe_load(ALLOWLIST.read_text())
    problems, allowed_counts = [], {}
    with tempfile.TemporaryDirectory() as tmp:
        rendered = []
        for overlay in sorted((ROOT / "k8s" / "overlays").iterdir()):
            out = subprocess.run(["kubectl", "kustomize", str(overlay)], capture_output=True, text=True, check=True)
            path = Path(tmp) / f"{overlay.name}.yaml"
            path.write_text(out.stdout)
            rendered.append(path)
        runs = {"kubernetes": _checkov(rendered, None, "kubernetes"),
                "dockerfile": _checkov(None, ROOT / "docker", "dockerfile")}
    for framework, failed in runs.items():
        rules = allow.get(framework) or {}
        for c in failed:
            rule = rules.get(c["check_id"])
            ok = rule is not None and (not rule.get("resources") or any(
                r in c["resource"] for r in rule["resources"]))
            if ok:
                allowed_counts[c["check_id"]] = allowed_counts.get(c["check_id"], 0) + 1
            else:
                problems.append(f"checkov {framework} {c['check_id']} {c['resource']} "
                                f"({c.get('file_path', '')}): {c['check_name']}")
        for check_id in rules:
            if check_id not in allowed_counts:
                problems.append(f"checkov {framework} {check_id}: allow-listed but no longer fails; "
                                "remove it from security/checkov-allowlist.yaml")
    return problems, allowed_counts


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("which", nargs="?", default="all", choices=["all", "bandit", "checkov"])
    args = ap.parse_args(argv)
    problems = []
    if args.which in ("all", "bandit"):
        found = run_bandit()
        problems += found
        print(f"bandit: {len(found)} medium/high finding(s) in {', '.join(BANDIT_PATHS)}")
    if args.which in ("all", "checkov"):
        found, allowed = run_checkov()
        problems += found
        listed = ", ".join(f"{k} x{v}" for k, v in sorted(allowed.items()))
        print(f"checkov: {len(found)} problem(s); allow-listed failures: {listed or 'none'}")
    for p in problems:
        print(p)
    print("security_scan: " + ("all checks passed" if not problems else f"FAILED ({len(problems)})"))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
