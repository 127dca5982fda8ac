"""The API docs page works offline: its Swagger UI comes from the app, pinned, never a CDN."""

import re

import pytest
from django.test import Client


@pytest.mark.django_db
@pytest.mark.parametrize("debug", [True, False])
def test_docs_page_references_no_external_host_and_its_assets_are_served(settings, debug, tmp_path):
    settings.DEBUG = debug
    settings.WHITENOISE_USE_FINDERS = True  # as collectstatic would have put them in production
    settings.WHITENOISE_AUTOREFRESH = True
    client = Client()
    response = client.get("/api/docs/")
    assert response.status_code == 200
    page = response.content.decode()
    urls = re.findall(r"""(?:src|href)\s*=\s*["']([^"']+)["']""", page) + re.findall(r"""["'](https?://[^"']+)["']""", page)
    assert urls
    external = [url for url in urls if url.startswith(("http://", "https://", "//")) and "testserver" not in url]
    assert not external, external
    assets = [url for url in urls if url.startswith("/static/")]
    assert any("swagger-ui" in url and url.endswith(".js") for url in assets), assets
    for url in assets:
        assert client.get(url).status_code == 200, url
    assert client.get("/api/schema/").status_code == 200
