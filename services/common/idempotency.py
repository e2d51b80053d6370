"""Idempotency-Key claims in Redis: a retried submission finds the job its first attempt created.

``sketchref:idem:<hash>`` -> ``{"payload": sha256, "job": id}``, expiring with the jobs (the same TTL),
where ``<hash>`` is the gateway's hash of the client and its key (keys are scoped per client). A job
record remembers the hash it was claimed under (``JobRecord.idempotency_hash``) so that deleting the
job deletes its claim too (:meth:`services.common.job_store.JobStore.delete`).
"""

from __future__ import annotations

import json

KEY_PREFIX = "sketchref:idem:"


def idempotency_key(key_hash: str) -> str:
    """The Redis key that holds the claim of ``key_hash``."""
    return KEY_PREFIX + key_hash


class IdempotencyKeys:
    def __init__(self, redis_client, ttl_s: int):
        self.r = redis_client
        self.ttl_s = int(ttl_s)

    def claim(self, key_hash: str, payload_sha: str, job_id: str) -> tuple[str, str] | None:
        """Remember ``key -> (payload, job)``; returns the earlier ``(payload, job)`` if there was one."""
        key = idempotency_key(key_hash)
        value = json.dumps({"payload": payload_sha, "job": job_id})
        while True:
            if self.r.set(key, value, ex=self.ttl_s, nx=True):
                return None
            raw = self.r.get(key)
            if raw is not None:
                old = json.loads(raw)
                return old["payload"], old["job"]
            # expired in between: claim again

    def release(self, key_hash: str, job_id: str) -> None:
        """Forget a claim whose job was never created (so a retry with the same key can succeed)."""
        key = idempotency_key(key_hash)
        raw = self.r.get(key)
        if raw is not None and json.loads(raw)["job"] == job_id:
            self.r.delete(key)
