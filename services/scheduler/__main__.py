"""``python -m services.scheduler``: run the scheduler service."""

from services.runtime.entrypoint import run_service
from services.scheduler.main import create_app
from services.scheduler.settings import SchedulerSettings

run_service(create_app, SchedulerSettings)
