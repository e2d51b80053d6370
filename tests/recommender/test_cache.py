"""The result cache: TTL, JSON only, and one API call for concurrent misses (threads, processes, Redis)."""

from __future__ import annotations

import json
import multiprocessing as mp
import threading

import pytest

from services.common.storage import S3Storage
from services.recommender.cache import FileLock, LockTimeout, SearchCache, cache_key
from services.recommender.providers import load_recommender
from services.recommender.settings import RecommenderSettings
from tests.fakes.unsplash import FakeUnsplash

IMAGE_SIGNATURES = (b"\x89PNG", b"\xff\xd8\xff", b"RIFF", b"GIF8", b"BM")


def test_key_depends_on_provider_query_and_params():
    k = cache_key("unsplash", "Hot  Dog", {"per_page": 12, "content_filter": "high"})
    assert k == cache_key("unsplash", "hot dog", {"content_filter": "high", "per_page": 12})
    assert k != cache_key("unsplash", "hot dog", {"per_page": 30, "content_filter": "high"})
    assert k != cache_key("other", "hot dog", {"per_page": 12, "content_filter": "high"})


def test_ttl_and_stale_entries(storage):
    now = [1000.0]
    cache = SearchCache(storage, ttl_s=60, clock=lambda: now[0])
    assert cache.get("p", "k") == (None, False)
    cache.put("p", "k", {"results": [{"id": "a"}]})
    assert cache.get("p", "k") == ({"results": [{"id": "a"}], "fetched_at": 1000.0}, True)
    now[0] += 61
    entry, fresh = cache.get("p", "k")
    assert entry["results"] == [{"id": "a"}] and not fresh  # kept for serving while the API is down
    with pytest.raises(TypeError):
        cache.put("p", "bytes", {"results": b"\x89PNG"})  # JSON only


def test_file_lock_excludes_and_times_out(tmp_path):
    with FileLock(tmp_path / "a.lock", timeout=5):
        with pytest.raises(LockTimeout):
            with FileLock(tmp_path / "a.lock", timeout=0.2):
                pass
    with FileLock(tmp_path / "a.lock", timeout=0.2):
        pass


def _concurrently(make, label: str, k: int) -> list:
    barrier = threading.Barrier(k)
    out: list = [None] * k

    def run(i: int) -> None:
        rec = make()  # one provider per thread, like one per worker
        barrier.wait()
        out[i] = rec.recommend(label, 6)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(k)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return out


def test_single_flight_threads_file_lock(make_settings, storage, common):
    fake = FakeUnsplash(latency_s=0.3).start()  # a slow API widens the window for a second call
    try:
        settings = make_settings(fake)
        out = _concurrently(lambda: load_recommender(settings, storage, common), "cat", 8)
    finally:
        fake.stop()
    assert fake.search_calls == ["cat"]
    assert all(len(refs) == 6 and refs[0].provider == "unsplash" for refs in out)
    assert len({tuple(r.id for r in refs) for refs in out}) == 1


def _process_worker(api_url: str, storage_dir: str, source: str, barrier, queue) -> None:
    from services.common.settings import CommonSettings
    from services.common.storage import LocalStorage
    from services.recommender.providers import load_recommender as load
    from tests.fakes.unsplash import KEY

    s = RecommenderSettings(provider="unsplash", unsplash_access_key=KEY, unsplash_api_url=api_url,
                            gallery_source_dir=source, lock="auto")
    rec = load(s, LocalStorage(storage_dir), CommonSettings(local_storage_dir=storage_dir))
    barrier.wait()
    queue.put([r.provider for r in rec.recommend("owl", 4)])


def test_single_flight_processes_file_lock(storage, photo_source):
    fake = FakeUnsplash(latency_s=0.3).start()
    ctx = mp.get_context("spawn")
    barrier, queue = ctx.Barrier(4), ctx.Queue()
    procs = [ctx.Process(target=_process_worker, args=(fake.url, str(storage.root), str(photo_source), barrier, queue))
             for _ in range(4)]
    try:
        for p in procs:
            p.start()
        results = [queue.get(timeout=120) for _ in procs]
        for p in procs:
            p.join(30)
    finally:
        fake.stop()
    assert fake.search_calls == ["owl"]
    assert results == [["unsplash"] * 4] * 4


def test_services_mode_s3_cache_and_redis_single_flight(s3_settings, redis_url, make_settings):
    common = s3_settings.model_copy(update={"redis_url": redis_url})
    storage = S3Storage.from_settings(common)
    fake = FakeUnsplash(latency_s=0.3).start()
    try:
        settings = make_settings(fake, lock="auto")  # S3 storage -> the Redis lock
        out = _concurrently(lambda: load_recommender(settings, storage, common), "hot dog", 6)
        again = load_recommender(settings, storage, common).recommend("hot dog", 6)
    finally:
        fake.stop()
    assert fake.search_calls == ["hot dog"]
    assert all(refs and refs[0].provider == "unsplash" for refs in out)
    assert [r.id for r in again] == [r.id for r in out[0]]
    keys = storage.list("cache/recommender/")
    assert keys
    for key in keys:  # nothing in S3 holds image bytes: every cache object is a JSON document
        data = storage.get(key)
        assert not data.startswith(IMAGE_SIGNATURES)
        json.loads(data)
    assert not [k for k in storage.list("") if not k.startswith(("cache/", "gallery/"))]
