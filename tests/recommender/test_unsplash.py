"""The Unsplash provider against the stand-in server: calls, cache, hotlinks, attribution, rate limits."""

from __future__ import annotations

import json
import time
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from services.common.processes import free_port
from services.core import pipeline
from services.core.contracts import DetectedObject, Label
from services.recommender.providers import load_recommender
from services.recommender.unsplash import UnsplashProvider, with_utm
from tests.fakes.unsplash import KEY, FakeUnsplash

IMAGE_SIGNATURES = (b"\x89PNG", b"\xff\xd8\xff", b"RIFF", b"GIF8", b"BM")


def objects(*labels: str) -> list[DetectedObject]:
    return [DetectedObject(box=[0, 0, 10, 10], score=0.9, detector_label="object",
                           labels=[Label(label=lb, score=0.9), Label(label="zigzag", score=0.05)])
            for lb in labels]


class Recording(httpx.HTTPTransport):
    """A real transport that also notes every request it sends."""

    def __init__(self):
        super().__init__()
        self.requests: list[httpx.Request] = []

    def handle_request(self, request):
        self.requests.append(request)
        return super().handle_request(request)


def test_first_recognition_one_call_per_label_then_none(fake_unsplash, make_settings, storage, common):
    settings = make_settings(fake_unsplash)
    rec = load_recommender(settings, storage, common)
    assert isinstance(rec, UnsplashProvider)
    objs = objects("cat", "dog", "cat")
    first = pipeline.recommend(objs, rec, n=6)
    assert sorted(fake_unsplash.search_calls) == ["cat", "dog"]
    assert all(len(o.references) == 6 and {r.provider for r in o.references} == {"unsplash"} for o in first)

    again = pipeline.recommend(objs, rec, n=6)
    # Another worker process reads the same cache: a fresh provider makes no call either.
    other = pipeline.recommend(objs, load_recommender(settings, storage, common), n=6)
    assert sorted(fake_unsplash.search_calls) == ["cat", "dog"]
    ids = [[r.id for r in o.references] for o in first]
    assert [[r.id for r in o.references] for o in again] == ids == [[r.id for r in o.references] for o in other]


def test_references_hotlink_and_attribution(fake_unsplash, make_settings, storage, common):
    transport = Recording()
    rec = load_recommender(make_settings(fake_unsplash), storage, common, transport=transport)
    refs = rec.recommend("hot dog", n=4)
    assert len(refs) == 4
    # What the API answered, asked directly (one more call, after the provider's).
    body = httpx.get(f"{fake_unsplash.url}/search/photos", params={"query": "hot dog", "per_page": 12,
                     "content_filter": "high"}, headers={"Authorization": f"Client-ID {KEY}"}).json()
    photos = {p["id"]: p for p in body["results"]}
    for ref in refs:
        photo = photos[ref.id]
        assert ref.url == photo["urls"]["regular"] and ref.thumb_url == photo["urls"]["thumb"]
        assert ref.url.startswith("https://images.unsplash.com/")
        assert ref.author == photo["user"]["name"]
        assert ref.download_location == photo["links"]["download_location"]
        for link, page in ((ref.author_url, photo["user"]["links"]["html"]), (ref.source_url, photo["links"]["html"])):
            parts = urlsplit(link)
            assert f"{parts.scheme}://{parts.netloc}{parts.path}" == page
            assert parse_qs(parts.query) == {"utm_source": ["sketchref_test"], "utm_medium": ["referral"]}
    # The provider only ever talked to the API: one search, with the key, never an image host.
    assert len(transport.requests) == 1
    req = transport.requests[0]
    assert f"{req.url.scheme}://{req.url.host}:{req.url.port}" == fake_unsplash.url
    assert req.url.path == "/search/photos"
    assert dict(req.url.params) == {"query": "hot dog", "per_page": "12", "content_filter": "high"}
    assert req.headers["Authorization"] == f"Client-ID {KEY}"


def test_with_utm_replaces_and_keeps_other_params():
    url = with_utm("https://unsplash.com/@jo?utm_source=x&ref=1", "app")
    assert parse_qs(urlsplit(url).query) == {"ref": ["1"], "utm_source": ["app"], "utm_medium": ["referral"]}


def test_rate_limited_403_falls_back_to_local_and_backs_off(fake_unsplash, make_settings, storage, common):
    fake_unsplash.exhaust()
    settings = make_settings(fake_unsplash)
    rec = load_recommender(settings, storage, common)
    out = pipeline.recommend(objects("cat", "owl"), rec, n=3)
    assert [r.provider for r in out[0].references] == ["local"]  # one cat photo in the small gallery
    assert [r.provider for r in out[1].references] == ["local"]
    assert fake_unsplash.search_calls == ["cat"]  # the 403 stopped every further call...
    rec2 = load_recommender(settings, storage, common)
    assert rec2.recommend("parrot", 3)[0].provider == "local"
    assert fake_unsplash.search_calls == ["cat"]  # ...in other workers too (shared back-off)
    assert rec2.recommend("zigzag", 3) == []  # nothing anywhere: empty, no error


def test_rate_limited_serves_the_cache_even_when_expired(fake_unsplash, make_settings, storage, common):
    settings = make_settings(fake_unsplash, cache_ttl_s=0)  # every entry is stale at once
    rec = load_recommender(settings, storage, common)
    before = [r.id for r in rec.recommend("cat", 5)]
    fake_unsplash.exhaust()
    after = rec.recommend("cat", 5)
    assert [r.id for r in after] == before and {r.provider for r in after} == {"unsplash"}
    assert fake_unsplash.search_calls == ["cat", "cat"]


def test_ratelimit_remaining_is_honoured(make_settings, storage, common):
    fake = FakeUnsplash(limit=2).start()
    try:
        rec = load_recommender(make_settings(fake), storage, common)
        assert rec.recommend("cat", 2)[0].provider == "unsplash"
        assert rec.recommend("dog", 2)[0].provider == "unsplash"  # answer says: 0 remaining
        assert rec.recommend("owl", 2)[0].provider == "local"
        assert fake.search_calls == ["cat", "dog"]  # never ran into the 403
        state = json.loads(storage.get("cache/recommender/unsplash/_state.json"))
        assert state["backoff_until"] > time.time()
    finally:
        fake.stop()


@pytest.mark.parametrize("status", [500, 503, 429])
def test_server_errors_back_off(fake_unsplash, make_settings, storage, common, status):
    fake_unsplash.fail_with(status)
    rec = load_recommender(make_settings(fake_unsplash), storage, common)
    assert [r.provider for r in rec.recommend("cat", 3)] == ["local"]
    assert [r.provider for r in rec.recommend("cat", 3)] == ["local"]
    assert fake_unsplash.search_calls == ["cat"]


def test_bad_key_and_unreachable_api_never_raise(fake_unsplash, make_settings, storage, common):
    bad = make_settings(fake_unsplash, unsplash_access_key="wrong-key")
    assert [r.provider for r in load_recommender(bad, storage, common).recommend("cat", 3)] == ["local"]
    assert fake_unsplash.unauthorized == 1
    gone = make_settings(fake_unsplash, unsplash_api_url=f"http://127.0.0.1:{free_port()}",
                         cache_prefix="cache/other")
    assert [r.provider for r in load_recommender(gone, storage, common).recommend("owl", 3)] == ["local"]


def test_auto_provider_is_local_without_a_key(make_settings, storage, common):
    from services.recommender.gallery import LocalGallery

    assert isinstance(load_recommender(make_settings(None, provider="auto"), storage, common),
                      LocalGallery)
    assert isinstance(load_recommender(make_settings(None, provider="unsplash"), storage, common),
                      LocalGallery)


def test_cache_folder_holds_only_json(fake_unsplash, make_settings, storage, common):
    rec = load_recommender(make_settings(fake_unsplash), storage, common)
    pipeline.recommend(objects("cat", "dog", "hot dog", "airplane"), rec, n=6)
    files = [p for p in (storage.root / "cache").rglob("*") if p.is_file()]
    assert len(files) >= 4
    for p in files:
        data = p.read_bytes()
        assert not data.startswith(IMAGE_SIGNATURES)
        json.loads(data)
    # Gallery images are local photos only; nothing else was written.
    top = {p.relative_to(storage.root).parts[0] for p in storage.root.rglob("*") if p.is_file()}
    assert top <= {"cache", "gallery"}
