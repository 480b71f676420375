"""``python -m services.webhooks``: run the webhooks service."""

from services.runtime.entrypoint import run_service
from services.webhooks.main import create_app
from services.webhooks.settings import WebhooksSettings

run_service(create_app, WebhooksSettings)
