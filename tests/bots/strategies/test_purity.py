"""Strategies are pure: importing them loads no database, exchange, ledger or Django code."""
import subprocess
import sys


def test_strategies_and_config_import_nothing_from_exchanges_ledger_or_django():
    code = ("import sys, bots.strategies, bots.config; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('django', 'exchanges', 'ledger', 'clients')))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60,
                            env={"PYTHONPATH": "."})
    assert result.stdout.strip() == "[]"
