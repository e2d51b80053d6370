"""``python -m cli ARGS``: the ``sketchref`` command without the console script."""

import sys

from cli.main import main

sys.exit(main())
