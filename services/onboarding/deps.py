"""What the HTTP edge's endpoints depend on, declared once as ``Annotated`` aliases."""

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from services.onboarding.settings import OnboardingSettings
from services.onboarding.stripe import StripeApi
from services.runtime.member_auth import CallerDep

# The calling member is the runtime's (services.runtime.member_auth); named here with the rest.
__all__ = ["CallerDep", "Onboarding", "OnboardingDep", "get_onboarding"]


@dataclass(frozen=True)
class Onboarding:
    """Built once in ``create_app``."""

    settings: OnboardingSettings
    stripe: StripeApi


def get_onboarding(request: Request) -> Onboarding:
    onboarding: Onboarding = request.app.state.onboarding
    return onboarding


OnboardingDep = Annotated[Onboarding, Depends(get_onboarding)]
