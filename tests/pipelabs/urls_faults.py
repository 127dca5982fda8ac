"""URLs that fail on purpose, appended to the real ones for error-path tests."""

from django.urls import path

from pipelabs.urls import handler404, handler500, urlpatterns as real_urlpatterns  # noqa: F401


def explode(request):
    raise RuntimeError("boom")


urlpatterns = [*real_urlpatterns, path("explode", explode)]
