"""Form fields shared by the admin screens of every app."""

from __future__ import annotations

import json
import math

from django import forms
from django.core.exceptions import ValidationError

MAX_JSON_CHARS = 65_536
MAX_JSON_DEPTH = 8
MAX_INTEGER_DIGITS = 30

NOT_JSON = "Enter valid JSON: {detail}."
TOO_LONG = f"At most {MAX_JSON_CHARS:,} characters."
TOO_DEEP = f"Nested more than {MAX_JSON_DEPTH} levels deep."
NOT_AN_OBJECT = "Enter a JSON object, e.g. {} or {\"key\": \"value\"}."
NUL_CHARACTER = "Text may not contain the NUL character (\\u0000)."
NOT_FINITE = "Numbers must be finite: NaN, Infinity and numbers too large for a float (such as 1e400) are refused."
INTEGER_TOO_LONG = f"Integers have at most {MAX_INTEGER_DIGITS} digits; write larger amounts as decimal strings."


def _nesting_depth(text: str) -> int:
    """The deepest bracket nesting outside strings, found before parsing so a hostile depth never recurses."""
    depth = deepest = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            deepest = max(deepest, depth)
            if deepest > MAX_JSON_DEPTH:
                break
        elif char in "]}":
            depth -= 1
    return deepest


def _refuse_constant(name: str):
    raise ValidationError(NOT_FINITE, code="not_finite")


def _parse_int(digits: str) -> int:
    if len(digits.lstrip("-")) > MAX_INTEGER_DIGITS:
        raise ValidationError(INTEGER_TOO_LONG, code="integer_too_long")
    return int(digits)


def _parse_float(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):
        raise ValidationError(NOT_FINITE, code="not_finite")
    return number


def _has_nul(value) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_nul(v) for v in value)
    return False


def parse_strict_json(text: str) -> dict:
    """A JSON object from ``text``, or a ValidationError saying plainly what is wrong with it."""
    if len(text) > MAX_JSON_CHARS:
        raise ValidationError(TOO_LONG, code="too_long")
    if _nesting_depth(text) > MAX_JSON_DEPTH:
        raise ValidationError(TOO_DEEP, code="too_deep")
    try:
        value = json.loads(text, parse_constant=_refuse_constant, parse_int=_parse_int, parse_float=_parse_float)
    except json.JSONDecodeError as exc:
        raise ValidationError(NOT_JSON.format(detail=f"{exc.msg} at line {exc.lineno} column {exc.colno}"),
                              code="invalid") from None
    if not isinstance(value, dict):
        raise ValidationError(NOT_AN_OBJECT, code="not_an_object")
    if _has_nul(value):
        raise ValidationError(NUL_CHARACTER, code="nul_character")
    return value


class StrictJSONField(forms.JSONField):
    """A JSON object field that answers bad input with a form error instead of a 500 further down.

    Refuses what the database or Python would choke on later: NUL characters (PostgreSQL's jsonb),
    NaN/Infinity and overflowing floats, integers long enough to hit Python's digit limit, deep
    nesting, and anything but an object at the top. Empty means ``{}``.
    """

    def __init__(self, **kwargs):
        kwargs.setdefault("required", False)
        super().__init__(**kwargs)

    def to_python(self, value):
        if self.disabled:
            return value
        if value in self.empty_values:
            return {}
        if isinstance(value, dict):
            return value
        if not isinstance(value, str):
            raise ValidationError(NOT_AN_OBJECT, code="not_an_object")
        return parse_strict_json(value)

    def bound_data(self, data, initial):
        if self.disabled:
            return initial
        if data is None:
            return None
        try:
            return parse_strict_json(data)
        except ValidationError:
            return forms.fields.InvalidJSONInput(data)
