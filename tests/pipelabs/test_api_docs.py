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


@pytest.mark.django_db
def test_schema_lists_the_client_api_as_the_frontend_calls_it():
    import yaml

    response = Client().get("/api/schema/")
    schema = yaml.safe_load(response.content)
    paths = set(schema["paths"])
    for path in ("/bots", "/bots/{bot_id}", "/bots/{bot_id}/balance-and-volume", "/bots/{bot_id}/stats",
                 "/bots/{bot_id}/trades", "/bots/health/summary", "/auth/message/{wallet}", "/auth/verify",
                 "/clients", "/clients/by-wallet/{wallet}", "/exchanges/credentials", "/portfolio", "/market/price",
                 "/api/admin/clients/{client_id}/balances"):
        assert path in paths, path
    assert schema["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"


@pytest.mark.django_db
def test_documented_bot_fields_are_what_the_endpoint_answers():
    from bots.api.serializers import BotSerializer, bot_json
    from tests.factories import BotFactory

    documented = {name for name, field in BotSerializer().fields.items() if field.required}
    assert documented <= set(bot_json(BotFactory()))
