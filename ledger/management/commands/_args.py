"""Argument parsing shared by the ledger's commands."""

import math
from argparse import ArgumentTypeError
from datetime import datetime, time
from datetime import timezone as dt_timezone

from django.core.management.base import CommandError

from bots.models import Bot

BAD_DATE = "{value!r} is not a date (YYYY-MM-DD) or an ISO date-time."
BAD_SECONDS = "{name} must be a positive, finite number of seconds, at most {high:g}; not {value!r}."
BAD_ID = "{name} must be a positive whole number (an id), not {value!r}."
MAX_ID = 2**63 - 1


def seconds(name: str, high: float):
    """An argparse type: a finite number of seconds in (0, high]; inf, nan and 1e300 are refused."""

    def parse(value: str) -> float:
        try:
            number = float(value)
        except ValueError:
            number = math.nan
        if not (math.isfinite(number) and 0 < number <= high):
            raise ArgumentTypeError(BAD_SECONDS.format(name=name, high=high, value=value))
        return number

    return parse


def object_id(name: str):
    """An argparse type: an id that fits the database's 64-bit keys."""

    def parse(value: str) -> int:
        try:
            number = int(value)
        except ValueError:
            number = 0
        if not 0 < number <= MAX_ID:
            raise ArgumentTypeError(BAD_ID.format(name=name, value=value))
        return number

    return parse


def add_bot_arguments(parser) -> None:
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--bot", type=int, help="The bot's id.")
    group.add_argument("--all", action="store_true", help="Every bot.")


def selected_bots(options) -> list[Bot]:
    bots = Bot.objects.select_related("account").order_by("pk")
    if options["bot"] is not None:
        bots = bots.filter(pk=options["bot"])
        if not bots:
            raise CommandError(f"No bot with id {options['bot']}.")
    return list(bots)


def parse_moment(value: str | None, *, end_of_day: bool = False) -> datetime | None:
    """A date means its whole UTC day (start, or end with ``end_of_day``); naive times are UTC."""
    if value is None:
        return None
    try:
        if len(value) == 10:
            day = datetime.strptime(value, "%Y-%m-%d").date()
            return datetime.combine(day, time.max if end_of_day else time.min, tzinfo=dt_timezone.utc)
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise CommandError(BAD_DATE.format(value=value)) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt_timezone.utc)
