"""Per-client rate limits on the POSTs (job submissions and label picks; live guesses on a limiter of
their own, ``scope="guess"``), counted in Redis so every gateway replica shares them.

The algorithm is GCRA (the "generic cell rate algorithm", a sliding-window limiter that keeps one
number per client): a client may send ``per_minute`` requests a minute on average, and at most
``burst`` at once after being idle. Redis holds the client's *theoretical arrival time* ``tat``
(epoch milliseconds). With the emission interval ``T = 60000 / per_minute`` ms, a request at ``now``
is allowed when ``max(tat, now) + T - burst * T <= now``; then ``tat`` becomes ``max(tat, now) + T``.
A refused request changes nothing, so it neither creates a job nor pushes the client's window further
out, and its ``Retry-After`` is exactly when the next request will pass.

One Lua script does the read, the decision and the write, so concurrent requests (from any number of
gateways) cannot both take the last slot. The clock is Redis' own (``TIME``), so gateways whose clocks
disagree still agree on the limit. The key expires when the client's window is over, so idle clients
cost nothing. Refusals are counted in ``sketchref:metrics:rate_limited`` for ``/metrics``.

Clients are the caller's API-key id (a hash prefix, never the key) when auth is on, else the client's
IP address as uvicorn reports it (behind a proxy, set ``SKETCHREF_FORWARDED_ALLOW_IPS`` to the
proxy's address so that it is the caller's, not the proxy's; see ``services/gateway/server.py``).
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

from services.common.job_store import PREFIX

log = logging.getLogger("sketchref.gateway")

REFUSED_KEY = PREFIX + "metrics:rate_limited"

# KEYS[1]: the client's tat (ms); KEYS[2]: the refusal counter.
# ARGV[1]: emission interval T (ms); ARGV[2]: burst; ARGV[3]: now (ms), or "" for Redis' clock.
# Returns {allowed (1|0), retry_after_ms, remaining}.
_GCRA = """
local t = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local now
if ARGV[3] ~= '' then
  now = tonumber(ARGV[3])
else
  local tm = redis.call('TIME')
  now = tonumber(tm[1]) * 1000 + math.floor(tonumber(tm[2]) / 1000)
end
local tat = now
local stored = redis.call('GET', KEYS[1])
if stored then
  tat = math.max(tonumber(stored), now)
end
local new_tat = tat + t
local allow_at = new_tat - burst * t
if now < allow_at then
  redis.call('INCR', KEYS[2])
  return {0, math.ceil(allow_at - now), 0}
end
redis.call('SET', KEYS[1], new_tat, 'PX', math.max(1, math.ceil(new_tat - now)))
return {1, 0, math.floor((now - allow_at) / t)}
"""


@dataclass(frozen=True)
class Decision:
    allowed: bool
    retry_after_s: int  # whole seconds, rounded up (what Retry-After carries); 0 when allowed
    remaining: int  # requests the client may still send right now
    limit: int  # the configured requests per minute


class RateLimiter:
    """``check(client)`` decides one request; ``per_minute <= 0`` turns the limiter off."""

    def __init__(self, redis_client, per_minute: int, burst: int | None = None, scope: str = "jobs"):
        self.r = redis_client
        self.per_minute = int(per_minute)
        self.burst = max(1, int(burst if burst else per_minute)) if per_minute > 0 else 0
        self.interval_ms = 60_000 / self.per_minute if self.per_minute > 0 else 0.0
        self.scope = scope
        self._script = redis_client.register_script(_GCRA)

    @property
    def enabled(self) -> bool:
        return self.per_minute > 0

    def key(self, client: str) -> str:
        return f"{PREFIX}ratelimit:{self.scope}:{client}"

    def check(self, client: str, now_ms: float | None = None) -> Decision:
        """Count one request of ``client``; ``now_ms`` replaces Redis' clock (tests only)."""
        if not self.enabled:
            return Decision(True, 0, 0, 0)
        allowed, retry_ms, remaining = self._script(
            keys=[self.key(client), REFUSED_KEY],
            args=[f"{self.interval_ms:.3f}", self.burst, "" if now_ms is None else f"{now_ms:.0f}"])
        retry_s = max(1, math.ceil(int(retry_ms) / 1000)) if not allowed else 0
        return Decision(bool(allowed), retry_s, int(remaining), self.per_minute)

    def refused_total(self) -> int:
        return int(self.r.get(REFUSED_KEY) or 0)
