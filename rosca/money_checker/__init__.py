"""The money checker: every invariant rosca's money must keep, checked on a deployment's books and
Stripe's (or the simulator's), after an end-to-end test, the demo or the chaos suite.

``check_money(collections_database_url, stripe_client)`` returns a ``MoneyReport``; no violations
means every check passed. ``invariants.py`` holds the rules (pure), ``books.py`` reads the facts.
"""

from rosca.money_checker.check import check_money
from rosca.money_checker.invariants import MoneyReport, Violation, ViolationKind

__all__ = ["MoneyReport", "Violation", "ViolationKind", "check_money"]
