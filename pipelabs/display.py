"""How figures read to people: in the admin and in command output (the API writes exact numbers)."""
from datetime import datetime
from decimal import Decimal, InvalidOperation

from django.utils import timezone


def amount(value) -> str:
    """12345.678900000000000000 -> '12,345.6789'; 0E-18 -> '0'; None -> '-'.

    Columns hold 18 decimal places for every asset; people want the digits that carry meaning.
    """
    if value is None or value == "":
        return "-"
    try:
        number = Decimal(value)
    except (InvalidOperation, TypeError, ValueError):
        return str(value)
    if not number.is_finite():
        return str(number)
    if number.is_zero():
        return "0"
    return f"{number.normalize():,f}"


def age(moment: datetime | None, now: datetime | None = None) -> str:
    """'12 s ago', '5 min ago', '3 h ago', '2 d ago'; None -> 'never'."""
    if moment is None:
        return "never"
    seconds = int(((now or timezone.now()) - moment).total_seconds())
    if seconds < 0:
        return "just now"
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size * (2 if unit != "min" else 1):
            return f"{seconds // size} {unit} ago"
    return f"{seconds} s ago"
