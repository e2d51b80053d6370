import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.services.stack import gateway, redis_url, s3_endpoint, stack_env  # noqa: E402,F401
