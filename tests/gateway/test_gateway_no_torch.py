"""The gateway's process never imports torch (nor the model libraries)."""

from __future__ import annotations

import subprocess
import sys

from services.common.settings import ROOT

CODE = """
import sys
from services.gateway.main import create_app
app = create_app()
app.openapi()
heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'torchvision', 'ultralytics', 'transformers'))
print('HEAVY', heavy)
"""


def test_gateway_never_imports_torch():
    # a fresh interpreter: this test process may already hold torch from other tests
    out = subprocess.run([sys.executable, "-c", CODE], cwd=ROOT, capture_output=True, text=True, timeout=120,
                         env={"PATH": "/usr/bin:/bin", "SKETCHREF_REDIS_URL": "redis://127.0.0.1:1/0"})
    assert out.returncode == 0, out.stderr
    assert "HEAVY []" in out.stdout, out.stdout
