"""Supply chain and static security: bandit and checkov are clean outside the reasoned exceptions.

Runs scripts/security_scan.py as ``make security`` does, and checks that the scanner really reports
what it must (an unpinned download, a pickle load, a security SHA-1) so a green run means something.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))
import security_scan  # noqa: E402


def test_bandit_and_checkov_are_clean(capsys):
    code = security_scan.main([])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "bandit: 0 medium/high" in out and "checkov: 0 problem(s)" in out


def test_scanner_reports_what_it_must(tmp_path):
    (tmp_path / "bad.py").write_text(
        "import hashlib\nimport torch\nfrom transformers import AutoModel\n"
        "h = hashlib.sha1(b'password').hexdigest()\n"
        "state = torch.load('model.pt')\n"
        "m = AutoModel.from_pretrained('someone/model')\n")
    found = "\n".join(security_scan.run_bandit((".",), tmp_path))
    assert "B324" in found and "B614" in found and "B615" in found


def test_model_loads_are_pinned_and_safe():
    from services.classifier.settings import ClassifierSettings

    rev = ClassifierSettings().clip_revision
    assert len(rev) == 40 and all(c in "0123456789abcdef" for c in rev)  # a commit, not a branch
    src = (ROOT / "services" / "classifier" / "backbones.py").read_text()
    assert src.count("from_pretrained(self.source, revision=self.revision)") == 2
