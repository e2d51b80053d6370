"""The references routes over the interface only (:class:`services.core.stages.ReferenceFiles`): each
reason a download event is not sent has its status, code and headers, and the recommender's
implementation gives those reasons for Unsplash's answers. In-process (a stand-in transport)."""

from __future__ import annotations

import httpx
import pytest
from fastapi.testclient import TestClient

from services.core.stages import DownloadNotTracked, ReferenceFiles
from services.gateway.main import create_app
from services.gateway.settings import GatewaySettings
from services.recommender.references import GalleryAndUnsplash
from services.recommender.settings import RecommenderSettings

PHOTO = b"\xff\xd8\xff\xe0fake jpeg"


class Stub:
    def __init__(self, reason: str | None = None, status: int | None = None):
        self.reason, self.status, self.calls = reason, status, []

    def gallery_image(self, image_id: str, thumb: bool = False):
        if image_id == "f" * 16:
            raise OSError("storage down")
        return (PHOTO, "image/jpeg") if image_id == "0" * 16 else None

    def track_download(self, photo_id: str, download_location: str | None = None) -> None:
        self.calls.append((photo_id, download_location))
        if self.reason:
            raise DownloadNotTracked(self.reason, self.status)


@pytest.fixture
def client_for(tmp_path):
    settings = GatewaySettings(redis_url="redis://127.0.0.1:1/0", local_storage_dir=tmp_path)
    return lambda references: TestClient(create_app(settings, references=references))


def test_the_default_is_the_recommenders(tmp_path):
    app = create_app(GatewaySettings(redis_url="redis://127.0.0.1:1/0", local_storage_dir=tmp_path))
    assert isinstance(app.state.references, GalleryAndUnsplash) and isinstance(app.state.references, ReferenceFiles)
    assert app.state.references.storage is app.state.storage


def test_gallery_routes(client_for):
    c = client_for(Stub())
    r = c.get("/v1/gallery/" + "0" * 16)
    assert r.status_code == 200 and r.content == PHOTO and r.headers["content-type"] == "image/jpeg"
    assert r.headers["cache-control"] == "public, max-age=86400, immutable"
    assert c.get("/v1/gallery/" + "0" * 16 + "/thumb").status_code == 200
    for missing in ("1" * 16, "not-an-id", "1" * 16 + "/thumb"):
        r = c.get("/v1/gallery/" + missing)
        assert r.status_code == 404 and r.json()["error"]["code"] == "image_not_found"
    r = c.get("/v1/gallery/" + "f" * 16)
    assert r.status_code == 503 and r.json()["error"]["code"] == "storage_unavailable"


@pytest.mark.parametrize(("reason", "status", "code", "retry_after"), [
    ("bad_photo_id", 400, "bad_photo_id", None),
    ("not_configured", 503, "unsplash_not_configured", None),
    ("not_found", 404, "photo_not_found", None),
    ("rate_limited", 503, "unsplash_rate_limited", "600"),
    ("rejected", 502, "unsplash_error", None),
    ("unreachable", 502, "unsplash_unreachable", None),
])
def test_download_not_tracked(client_for, reason, status, code, retry_after):
    r = client_for(Stub(reason, 500)).post("/v1/references/unsplash/abc/download")
    assert r.status_code == status and r.json()["error"]["code"] == code
    assert r.headers.get("retry-after") == retry_after


def test_download_tracked(client_for):
    stub = Stub()
    c = client_for(stub)
    assert c.post("/v1/references/unsplash/abc/download").json() == {"id": "abc", "tracked": True}
    r = c.post("/v1/references/unsplash/abc/download", json={"download_location": "https://x/y"})
    assert r.json() == {"id": "abc", "tracked": True}
    assert stub.calls == [("abc", None), ("abc", "https://x/y")]


def _unsplash(handler, key: str | None = "k") -> GalleryAndUnsplash:
    settings = RecommenderSettings(unsplash_access_key=key, unsplash_api_url="https://api.example")
    return GalleryAndUnsplash(storage=None, settings=settings, transport=httpx.MockTransport(handler))  # type: ignore[arg-type]


@pytest.mark.parametrize(("answer", "reason"), [
    (404, "not_found"), (403, "rate_limited"), (429, "rate_limited"), (500, "rejected"), (401, "rejected")])
def test_unsplash_answers_become_reasons(answer, reason):
    refs = _unsplash(lambda request: httpx.Response(answer, json={"errors": ["no"]}))
    with pytest.raises(DownloadNotTracked) as caught:
        refs.track_download("abc")
    assert caught.value.reason == reason and caught.value.status == answer


def test_unsplash_reasons_before_any_call():
    seen = []
    refs = _unsplash(lambda request: seen.append(request.url) or httpx.Response(200, json={}))
    with pytest.raises(DownloadNotTracked, match="bad_photo_id"):
        refs.track_download("bad id!")
    with pytest.raises(DownloadNotTracked, match="not_configured"):
        _unsplash(lambda request: httpx.Response(200, json={}), key=None).track_download("abc")
    refs.track_download("abc", "https://elsewhere.example/photos/abc/download")  # never called with the key
    refs.track_download("abc", "https://api.example/photos/abc/download?ixid=1")
    assert [str(u) for u in seen] == ["https://api.example/photos/abc/download",
                                      "https://api.example/photos/abc/download?ixid=1"]


def test_unsplash_unreachable():
    def refuse(request):
        raise httpx.ConnectError("refused", request=request)

    with pytest.raises(DownloadNotTracked) as caught:
        _unsplash(refuse).track_download("abc")
    assert caught.value.reason == "unreachable" and caught.value.detail == "ConnectError"
