"""``python -m services.payouts``: run the payouts service."""

from services.payouts.main import create_app
from services.payouts.settings import PayoutsSettings
from services.runtime.entrypoint import run_service

run_service(create_app, PayoutsSettings)
