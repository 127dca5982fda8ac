"""What reads bots: the status words the frontend knows."""

from bots.models import Bot

# The frontend knows three statuses; the lifecycle's others map onto them.
API_STATUS = {
    Bot.Status.RUNNING: "running",
    Bot.Status.CREATED: "stopped",
    Bot.Status.STOPPING: "stopped",
    Bot.Status.STOPPED: "stopped",
    Bot.Status.PAUSED: "stopped",
    Bot.Status.ERROR: "error",
}


def api_status(bot: Bot) -> str:
    """running, stopped or error: the word the frontend shows (``bot.status`` keeps the detail)."""
    return API_STATUS.get(bot.status, "stopped")


def health(bot: Bot) -> dict:
    """``health_status`` and ``health_message``: why the bot is not trading, in the frontend's words
    ("Missing API", "Insufficient", "Trade skipped", "NO FUNDS", "NO GAS"); the error's own words
    when it is in error."""
    if bot.status == Bot.Status.ERROR:
        return {"health_status": Bot.Health.ERROR, "health_message": bot.error_message or bot.health_message}
    if bot.status == Bot.Status.PAUSED:
        return {"health_status": Bot.Health.WARNING, "health_message": bot.status_reason or "Paused."}
    return {"health_status": bot.health_status, "health_message": bot.health_message}
