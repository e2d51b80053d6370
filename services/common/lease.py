"""A lease on every message a worker holds, so a short Redis visibility timeout is safe.

Redis' transport records a delivered, unacknowledged message in the ``unacked`` hash and its
delivery time in the ``unacked_index`` sorted set; any consumer puts back ("restores") messages
older than ``visibility_timeout``. With a short timeout (seconds, not the longest stage) a message of
a dead worker comes back soon, but a slow stage that is still running would be delivered twice.

:class:`LeaseRenewer` is a Celery worker bootstep: a thread in the worker's *main* process that
every ``lease_renew_s`` seconds moves the ``unacked_index`` time of each message this worker holds
(reserved or running) to now (``ZADD XX``: it never re-adds one that was acknowledged or restored).
While the main process lives, its messages stay leased whatever a pool child does (a killed child
requeues at once through ``reject_on_worker_lost``); once the main process dies, the renewals stop
and the message is restored ``visibility_timeout`` later (plus at most one restore interval).
"""

from __future__ import annotations

import logging
import threading
import time

log = logging.getLogger("sketchref.lease")
UNACKED_INDEX = "unacked_index"  # kombu's default unacked_index_key


def held_delivery_tags() -> set[str]:
    """Delivery tags of the messages this worker process holds (reserved or being run)."""
    from celery.worker import state

    tags = set()
    for req in list(state.reserved_requests) + list(state.active_requests):
        tag = getattr(getattr(req, "message", None), "delivery_tag", None)
        if tag:
            tags.add(tag)
    return tags


def renew(client, tags: set[str], now: float | None = None) -> int:
    """Move the lease of ``tags`` to ``now``; returns how many were still unacknowledged."""
    if not tags:
        return 0
    now = time.time() if now is None else now
    return int(client.zadd(UNACKED_INDEX, dict.fromkeys(tags, now), xx=True, ch=True) or 0)


def make_bootstep(renew_s: float):
    from celery import bootsteps

    class LeaseRenewer(bootsteps.StartStopStep):
        """Renews the leases of this worker's messages every ``renew_s`` seconds (a thread)."""

        label = "lease renewer"

        def __init__(self, worker, **kwargs):
            self.stop_event = threading.Event()
            self.thread: threading.Thread | None = None
            self.broker_url = worker.app.conf.broker_url

        def start(self, worker):
            import redis

            client = redis.Redis.from_url(self.broker_url, socket_timeout=5, socket_connect_timeout=2)

            def loop():
                while not self.stop_event.wait(renew_s):
                    try:
                        renew(client, held_delivery_tags())
                    except Exception as exc:  # Redis down a moment: the next round renews
                        log.debug("lease renewal skipped: %s", type(exc).__name__)

            self.thread = threading.Thread(target=loop, name="lease-renewer", daemon=True)
            self.thread.start()

        def stop(self, worker):
            self.stop_event.set()

    return LeaseRenewer


def _front_requeue_transport():
    """kombu's Redis transport, except that a message requeued because its pool child died goes to
    the *front* of its queue (kombu puts it at the back, behind every message sent since: with 50
    jobs waiting, the interrupted job would wait for all of them again). A message restored after
    its lease lapsed already goes to the front."""
    from kombu.transport import redis as kredis
    from kombu.transport import virtual

    class FrontQoS(kredis.QoS):
        def reject(self, delivery_tag, requeue=False):
            if not requeue:
                return super().reject(delivery_tag, requeue)
            self.restore_by_tag(delivery_tag, leftmost=False)  # RPUSH: the end consumers pop from
            virtual.QoS.ack(self, delivery_tag)

    class FrontChannel(kredis.Channel):
        QoS = FrontQoS

    class FrontRequeueTransport(kredis.Transport):
        Channel = FrontChannel

    return FrontRequeueTransport


FrontRequeueTransport = _front_requeue_transport()
TRANSPORT = "services.common.lease:FrontRequeueTransport"
