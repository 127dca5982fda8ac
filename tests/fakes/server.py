"""What every fake venue shares: a threaded HTTP server on 127.0.0.1 at a free port.

A fake subclasses ``LocalServer``, builds its request handler in ``make_handler`` and is used as
``with Fake(...) as fake: fake.url``.
"""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def send(handler: BaseHTTPRequestHandler, status: int, payload: bytes, content_type: str = "application/json") -> None:
    """Answer one request; a client that already gave up (a timeout test) is not an error."""
    try:
        handler.send_response(status)
        handler.send_header("Content-Type", content_type)
        handler.send_header("Content-Length", str(len(payload)))
        handler.end_headers()
        handler.wfile.write(payload)
    except (BrokenPipeError, ConnectionResetError):
        handler.close_connection = True


class LocalServer:
    server_class: type[ThreadingHTTPServer] = ThreadingHTTPServer
    url_path = ""  # appended to http://host:port, e.g. "/api"
    _server: ThreadingHTTPServer | None = None
    _thread: threading.Thread | None = None

    def make_handler(self) -> type[BaseHTTPRequestHandler]:
        raise NotImplementedError

    def start(self):
        self._server = self.server_class(("127.0.0.1", 0), self.make_handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
            name=f"fake-{type(self).__name__}", daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join(timeout=5)
            self._server = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}{self.url_path}"
