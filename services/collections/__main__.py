"""``python -m services.collections``: run the collections service."""

from services.collections.main import create_app
from services.collections.settings import CollectionsSettings
from services.runtime.entrypoint import run_service

run_service(create_app, CollectionsSettings)
