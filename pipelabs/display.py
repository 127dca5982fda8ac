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


def usd(value) -> str:
    """A USD figure to the cent: '$12,345.6'; None -> '-'."""
    return f"${amount(round(value, 2))}" if value is not None else "-"


def account_label(account) -> str:
    """'Demo client · paper:main': an account as operators name it, its client first, so two clients'
    'main' accounts are told apart. Reads account.client: load it with select_related."""
    return f"{account.client.name} · {account}"


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


def duration(span) -> str:
    """A timedelta as people say it: '45 s', '15 min', '2 h', '3 d'."""
    seconds = int(span.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size and seconds % size == 0 or seconds >= size * 2:
            return f"{seconds // size} {unit}"
    return f"{seconds} s"


def chart(title: str, points: list[tuple[str, "Decimal"]], *, unit: str = "", width: int = 420, height: int = 120,
          colour: str = "#0969da") -> str:
    """A small line chart as inline SVG (no script, no CDN): ``points`` are (label, value) in order.

    People would rather look than read; an admin page needs no chart library for a line.
    """
    from django.utils.html import escape

    if not points:
        return f'<div class="chart"><b>{escape(title)}</b>: no data yet</div>'
    values = [float(v) for _, v in points]  # drawing only: the figures shown are the Decimals
    low, high = min(values + [0.0]), max(values + [0.0])
    span = (high - low) or 1.0
    step = width / max(len(values) - 1, 1)
    xy = [(round(i * step, 1), round(height - (v - low) / span * height, 1)) for i, v in enumerate(values)]
    path = " ".join(f"{x},{y}" for x, y in xy)
    zero = round(height - (0 - low) / span * height, 1)
    last_label, last_value = points[-1]
    return (
        f'<div class="chart" style="margin:.5em 0"><b>{escape(title)}</b> '
        f'<span>{escape(last_label)}: {escape(amount(last_value))}{escape(unit)}</span><br>'
        f'<svg role="img" aria-label="{escape(title)}" width="{width}" height="{height}" '
        f'viewBox="-2 -2 {width + 4} {height + 4}" style="border:1px solid var(--hairline-color,#ddd)">'
        f'<line x1="0" y1="{zero}" x2="{width}" y2="{zero}" stroke="#999" stroke-dasharray="3"/>'
        f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="{path}"/></svg>'
        f'<div style="font-size:.8em;color:#666">{escape(points[0][0])} … {escape(last_label)}</div></div>'
    )
