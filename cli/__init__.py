"""The `sketchref` command line: `cli/main.py` dispatches to one module per sub-command in `cli/commands/`.

It is its own top-level package, the outermost layer: it may import every other one (tests/project/test_layers.py).
"""
