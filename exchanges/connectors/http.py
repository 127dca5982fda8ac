"""Reading an HTTP answer against a total deadline, shared by the requests-based connectors.

requests' own timeout bounds each socket read, so a server trickling a byte at a time could hold
a call for ever; this bounds the whole body.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import requests
import urllib3

CHUNK_BYTES = 65536


def read_within(response: requests.Response, deadline: float, clock: Callable[[], float] = time.monotonic) -> bytes:
    """The streamed ``response``'s whole (decoded) body, read before ``deadline`` (``clock`` time).

    Every socket read may take only the time left. Failures leave as requests' own exceptions
    (ReadTimeout once the deadline passes), so callers map them like any other request failure.
    The connection goes back to the pool only when the body was read whole.
    """
    raw = response.raw
    sock = getattr(raw.connection, "sock", None)
    chunks = []
    try:
        while True:
            left = deadline - clock()
            if left <= 0:
                raise requests.ReadTimeout("the whole answer did not arrive in time")
            if sock is not None:
                sock.settimeout(left)
            chunk = raw.read1(CHUNK_BYTES, decode_content=True)
            if not chunk:
                break
            chunks.append(chunk)
    except requests.RequestException:  # before OSError: requests' exceptions are OSErrors
        response.close()
        raise
    except (urllib3.exceptions.TimeoutError, TimeoutError):
        response.close()
        raise requests.ReadTimeout("the answer stalled") from None
    except (urllib3.exceptions.HTTPError, OSError) as exc:
        response.close()
        raise requests.ConnectionError(type(exc).__name__) from None
    raw.release_conn()
    return b"".join(chunks)
