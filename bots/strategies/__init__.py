"""Pure strategies: market snapshot + bot state + config (+ rng and now) in, a Decision out.

No database, no exchange, no clock: nothing here imports ``exchanges``, ``ledger`` or Django.
"""

from bots.strategies import dex, spread, volume

DECIDERS = {"volume": volume.decide, "spread": spread.decide, "dex": dex.decide}


def decide(bot_type: str, market, state, config, rng, now):
    """The bot type's strategy decision; `config` is the bots.config dataclass of that type."""
    return DECIDERS[bot_type](market, state, config, rng, now)
