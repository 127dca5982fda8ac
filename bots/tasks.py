"""django-q2 entry points of the bot engine: thin, safe to run twice (the lease decides)."""

from datetime import datetime

from bots.engine import dispatch, tick


def dispatch_task(run_s: float | None = None) -> int:
    """The every-minute schedule: hand due bots their ticks for ~55 s; returns how many."""
    return dispatch.dispatch(run_s=run_s)


def tick_batch_task(bot_ids: list[int], token: str, due_ats: list[str | None]) -> int:
    """The ticks of a batch of bots the dispatcher claimed under ``token``; returns how many ran."""
    claimed = [(pk, datetime.fromisoformat(due) if due else None) for pk, due in zip(bot_ids, due_ats, strict=True)]
    return len(tick.run_batch(claimed, token))


def tick_task(bot_id: int, token: str, due_at: str | None = None) -> str:
    """One tick of one bot under the lease ``token`` the dispatcher claimed; its outcome in words."""
    return tick.run(bot_id, token, datetime.fromisoformat(due_at) if due_at else None).outcome
