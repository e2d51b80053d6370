"""``sketchref``: one command, one module per sub-command (``cli/commands/<name>.py``).

Each command module defines ``add_arguments(parser)`` and ``run(args) -> int``; modules are imported
only when their command runs, so ``sketchref submit`` never loads torch.
"""

from __future__ import annotations

import argparse
import importlib
import sys

COMMANDS = {
    "recognize": "recognize objects in sketch images, in-process (no services)",
    "train": "train a model: detector | classifier",
    "eval": "evaluate a model on held-out data: detector | classifier",
    "up": "start the whole stack locally (redis, S3, workers, gateway)",
    "worker": "run one worker: detector | classifier | recommender",
    "gateway": "run the HTTP gateway",
    "submit": "submit a sketch to a running gateway",
    "gallery": "manage the local reference gallery",
    "env": "write a local .env with random keys for docker-compose",
    "models": "model registry: list | publish | promote | rollback | sync",
    "ablation": "research ablations: classifier --protocol v2 (resumable)",
    "data": "data sets: fetch quickdraw --per-class N (Google's simplified drawings, train split)",
}


def _module(name: str):
    return importlib.import_module(f"cli.commands.{name}")


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(prog="sketchref", description="Sketch recognition and references.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, help_text in COMMANDS.items():
        sub.add_parser(name, help=help_text, add_help=False)
    if not argv or argv[0] in ("-h", "--help") or argv[0] not in COMMANDS:
        parser.print_help(sys.stderr if argv and argv[0] not in ("-h", "--help") else sys.stdout)
        return 0 if not argv or argv[0] in ("-h", "--help") else 2
    name, rest = argv[0], argv[1:]
    module = _module(name)
    cmd_parser = argparse.ArgumentParser(prog=f"sketchref {name}", description=COMMANDS[name])
    module.add_arguments(cmd_parser)
    args = cmd_parser.parse_args(rest)
    return int(module.run(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
