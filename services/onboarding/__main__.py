"""``python -m services.onboarding``: run the onboarding service."""

from services.onboarding.main import create_app
from services.onboarding.settings import OnboardingSettings
from services.runtime.entrypoint import run_service

run_service(create_app, OnboardingSettings)
