"""Structured logs: one JSON object per line, secrets masked.

``sketchref worker`` logs this way by default (``--log-format text`` for people at a terminal). Every
line has ``ts``, ``level``, ``logger`` and ``msg``; a stage line adds ``job_id``, ``stage``,
``model_version``, ``outcome`` and ``duration_ms`` (passed as ``extra=`` by
:func:`services.common.worker.run_stage`), so a log search for one job or one model version finds
every stage it went through.

Secrets never reach a line: :class:`Redactor` replaces the values of the secret settings found in the
environment (``SKETCHREF_*KEY*``, ``*SECRET*``, ``*PASSWORD*``, ``*TOKEN*``, ``AWS_SECRET_ACCESS_KEY``)
and the password of any ``scheme://user:password@host`` URL with ``***``, in the message, in the
extra fields and in tracebacks.
"""

from __future__ import annotations

import json
import logging
import os
import re
import time

FIELDS = ("job_id", "stage", "model_version", "outcome", "duration_ms", "kind", "queue", "node")
_SECRET_NAME = re.compile(r"(KEY|SECRET|PASSWORD|TOKEN)", re.I)
_URL_CREDENTIALS = re.compile(r"(\w+://)([^/@\s:]*):([^/@\s]+)@")


def secret_values(environ: dict | None = None) -> list[str]:
    env = os.environ if environ is None else environ
    vals = {v for k, v in env.items() if _SECRET_NAME.search(k) and len(v) >= 4
            and (k.startswith("SKETCHREF_") or k.startswith("AWS_") or k.startswith("REDIS"))}
    return sorted(vals, key=len, reverse=True)


class Redactor:
    def __init__(self, secrets: list[str] | None = None):
        self.secrets = secret_values() if secrets is None else secrets

    def __call__(self, text: str) -> str:
        for s in self.secrets:
            if s in text:
                text = text.replace(s, "***")
        return _URL_CREDENTIALS.sub(r"\1\2:***@", text)


class JsonFormatter(logging.Formatter):
    def __init__(self, redact: Redactor | None = None):
        super().__init__()
        self.redact = redact or Redactor()

    def format(self, record: logging.LogRecord) -> str:
        doc = {"ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
               "level": record.levelname, "logger": record.name, "msg": self.redact(record.getMessage())}
        for f in FIELDS:
            v = getattr(record, f, None)
            if v is not None:
                doc[f] = self.redact(v) if isinstance(v, str) else v
        if record.exc_info:
            doc["exc"] = self.redact(self.formatException(record.exc_info))
        return json.dumps(doc, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    def __init__(self, redact: Redactor | None = None):
        super().__init__("%(levelname)s %(name)s: %(message)s")
        self.redact = redact or Redactor()

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        extra = " ".join(f"{f}={getattr(record, f)}" for f in FIELDS if getattr(record, f, None) is not None)
        return self.redact(f"{line} [{extra}]" if extra else line)


def configure(level: str = "INFO", fmt: str = "json") -> None:
    """Root logging to stderr in ``fmt`` (``json`` or ``text``), replacing earlier handlers."""
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    root = logging.getLogger()
    for h in list(root.handlers):
        root.removeHandler(h)
    root.addHandler(handler)
    root.setLevel(level.upper())


class _NotTaskSucceeded(logging.Filter):
    """Drops Celery's per-task "succeeded" line (its retries and failures pass)."""

    def filter(self, record: logging.LogRecord) -> bool:
        from celery.app.trace import LOG_SUCCESS

        return record.msg != LOG_SUCCESS


def quiet_task_lines(level: str = "INFO") -> None:
    """Turn off Celery's "Task ... received" and "Task ... succeeded" lines below ``DEBUG``: the stage's
    own line (``detect done``, with the job, stage, outcome and duration) says the same. Each stage
    wrote three lines, and the "received" one is written before the task runs: every line woke the
    log collector (``sketchref up``, a container runtime) on the job's path. Retries, failures and
    everything else Celery logs are kept."""
    if logging.getLevelName(level.upper()) == logging.DEBUG:
        return
    logging.getLogger("celery.worker.strategy").setLevel(logging.WARNING)  # only "received" below that
    trace = logging.getLogger("celery.app.trace")
    if not any(isinstance(f, _NotTaskSucceeded) for f in trace.filters):
        trace.addFilter(_NotTaskSucceeded())
