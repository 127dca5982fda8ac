import pytest

from exchanges.endpoints import check_endpoint_url


def test_https_anywhere_is_accepted():
    assert check_endpoint_url(" https://api.example.com/v1 ", "api_url") == "https://api.example.com/v1"


@pytest.mark.parametrize("url", ["http://api.example.com", "http://10.0.0.5:8899"])
def test_plain_http_to_an_unlisted_host_is_refused(url):
    with pytest.raises(ValueError, match="rpc_url must be an https:// URL"):
        check_endpoint_url(url, "rpc_url")


def test_plain_http_to_an_allow_listed_host_is_accepted(settings):
    settings.EXCHANGE_HTTP_HOSTS = ["node.internal"]
    assert check_endpoint_url("http://NODE.internal:8899", "rpc_url") == "http://NODE.internal:8899"


@pytest.mark.parametrize("url", [123, None, "", "ftp://x.com", "https://", "javascript:alert(1)", "http://[::1"])
def test_malformed_urls_are_refused_with_the_option_named(url):
    with pytest.raises(ValueError, match="api_url must be an http"):
        check_endpoint_url(url, "api_url")
