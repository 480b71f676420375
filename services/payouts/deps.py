"""What the message handlers depend on, built once in ``create_app``."""

from dataclasses import dataclass

from services.payouts.domain.decision import BusinessDays
from services.payouts.settings import PayoutsSettings
from services.payouts.stripe import StripePayouts


@dataclass(frozen=True)
class Payouts:
    settings: PayoutsSettings
    stripe: StripePayouts
    calendar: BusinessDays
