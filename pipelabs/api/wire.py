"""Money on the wire: Decimals written as JSON numbers from their own digits, numbers read exactly.

DRF's encoder turns a Decimal into a float (or, with COERCE_DECIMAL_TO_STRING, into a string);
the frontend does arithmetic on balances and P&L, so it needs numbers, and we need them exact.
simplejson (``use_decimal``) writes ``str(Decimal)`` as the number (so 1E-18 stays 1E-18, a valid
JSON number, rather than being rewritten: a walk over every answer to reformat numbers costs more
than the rest of a 100-bot list) and parses every JSON number into a Decimal, never through a
binary float.
"""

from __future__ import annotations

import json
from decimal import Decimal

import simplejson
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser
from rest_framework.renderers import JSONRenderer
from rest_framework.utils.encoders import JSONEncoder as DrfEncoder

BAD_JSON = "The body is not valid JSON: {error}"
NOT_AN_OBJECT = "The body must be a JSON object."


class _Encoder(simplejson.JSONEncoder):
    """simplejson's encoder with DRF's conversions for dates, UUIDs, lazy strings and the like."""

    def default(self, o):
        return DrfEncoder().default(o)


def dumps(data) -> bytes:
    return simplejson.dumps(data, cls=_Encoder, use_decimal=True, ensure_ascii=False,
                            separators=(",", ":"), allow_nan=False).encode()


class DecimalJSONRenderer(JSONRenderer):
    charset = None

    def render(self, data, accepted_media_type=None, renderer_context=None):
        if data is None:
            return b""
        return dumps(data)


def _no_constants(name):
    raise ValueError(f"{name} is not a number")


class DecimalJSONParser(JSONParser):
    """JSON numbers become Decimals (exactly); an empty body is ``{}``; the top level is an object."""

    def parse(self, stream, media_type=None, parser_context=None):
        raw = stream.read() if stream is not None else b""
        if not raw.strip():
            return {}
        try:
            data = simplejson.loads(raw.decode("utf-8"), use_decimal=True, parse_constant=_no_constants)
        except (ValueError, UnicodeDecodeError) as exc:
            raise ParseError(BAD_JSON.format(error=exc)) from None
        if not isinstance(data, dict):
            raise ParseError(NOT_AN_OBJECT)
        return data


def plain_json(value):
    """``value`` with each Decimal made storable by the standard json module (JSONField), exactly.

    A Decimal becomes the float whose shortest repr has the same value (0.1 → 0.1), so a config
    keeps its numbers as numbers; one no float can carry exactly becomes its string, which every
    config parser reads the same way.
    """
    if isinstance(value, Decimal):
        if value == value.to_integral_value() and abs(value) < 2**53:
            return int(value)
        as_float = float(value)
        return as_float if Decimal(repr(as_float)) == value else str(value)
    if isinstance(value, dict):
        return {key: plain_json(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [plain_json(item) for item in value]
    return value


__all__ = ["DecimalJSONParser", "DecimalJSONRenderer", "dumps", "plain_json", "json"]
