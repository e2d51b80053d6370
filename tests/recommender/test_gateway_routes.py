"""The gateway's reference routes on real uvicorn, with the gallery in SeaweedFS and the stand-in Unsplash:
gallery images served from S3 (services-mode URLs), and the server-side Unsplash download event."""

from __future__ import annotations

import io
import subprocess
import sys
import threading

import httpx
import pytest
import uvicorn
from PIL import Image

from services.common.processes import free_port, port_open, wait_until
from services.common.storage import S3Storage
from services.gateway.main import create_app
from services.gateway.settings import GatewaySettings
from services.recommender.gallery import LocalGallery
from services.recommender.providers import load_recommender
from services.recommender.references import GalleryAndUnsplash


@pytest.fixture
def gateway(s3_settings, redis_url, make_settings, fake_unsplash):
    settings = GatewaySettings(**{**s3_settings.model_dump(), "redis_url": redis_url, "api_keys": "k1"})
    app = create_app(settings)
    app.state.references = GalleryAndUnsplash(app.state.storage, make_settings(fake_unsplash))
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_until(lambda: port_open(port), 30, "gateway")
    yield f"http://127.0.0.1:{port}", app
    server.should_exit = True
    thread.join(10)


def test_gallery_images_served_from_s3(gateway, s3_settings, make_settings, photo_source):
    url, _ = gateway
    storage = S3Storage.from_settings(s3_settings)
    g = LocalGallery(storage, make_settings(None), common=s3_settings, autobuild=False)
    g.add_folder(photo_source)
    refs = load_recommender(make_settings(None), storage, s3_settings).recommend("owl", 3)
    assert len(refs) == 1
    ref = refs[0]
    assert ref.url == f"/v1/gallery/{ref.id}" and ref.thumb_url == f"/v1/gallery/{ref.id}/thumb"
    r = httpx.get(url + ref.url)
    assert r.status_code == 200 and r.headers["content-type"] == "image/jpeg"
    assert r.content == storage.get(g.get(ref.id)["key"])
    t = httpx.get(url + ref.thumb_url)
    assert t.status_code == 200 and max(Image.open(io.BytesIO(t.content)).size) <= 256
    for bad in ("/v1/gallery/0123456789abcdef", "/v1/gallery/..%2Findex.json", "/v1/gallery/x/thumb"):
        r = httpx.get(url + bad)
        assert r.status_code == 404 and r.json()["error"]["code"] in ("image_not_found", "not_found")


def test_unsplash_download_event_is_sent_server_side(gateway, fake_unsplash, make_settings, storage, common):
    url, app = gateway
    ref = load_recommender(make_settings(fake_unsplash), storage, common).recommend("cat", 1)[0]
    auth = {"Authorization": "Bearer k1"}
    path = f"/v1/references/unsplash/{ref.id}/download"
    assert httpx.post(url + path).status_code == 401  # the gateway's own API key is required
    r = httpx.post(url + path, headers=auth, json={"download_location": ref.download_location})
    assert r.status_code == 200 and r.json() == {"id": ref.id, "tracked": True}
    # A location elsewhere is never called with the key: the API's own path is used instead.
    r = httpx.post(url + path, headers=auth, json={"download_location": "http://127.0.0.1:9/steal"})
    assert r.status_code == 200
    assert fake_unsplash.download_calls == [ref.id, ref.id]
    assert "fake-access-key" not in r.text
    r = httpx.post(url + "/v1/references/unsplash/unknownphoto/download", headers=auth)
    assert r.status_code == 404 and r.json()["error"]["code"] == "photo_not_found"
    r = httpx.post(url + "/v1/references/unsplash/bad%20id!/download", headers=auth)
    assert r.status_code == 400 and r.json()["error"]["code"] == "bad_photo_id"
    app.state.references = GalleryAndUnsplash(app.state.storage, make_settings(None))
    r = httpx.post(url + path, headers=auth)
    assert r.status_code == 503 and r.json()["error"]["code"] == "unsplash_not_configured"


def test_references_route_imports_no_torch():
    code = ("import sys, services.gateway.api.routes.references, services.recommender.providers,"
            " services.recommender.references;"
            "assert 'torch' not in sys.modules, 'torch imported'")
    subprocess.run([sys.executable, "-c", code], check=True)
