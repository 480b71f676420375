"""What the HTTP edge's endpoints depend on, declared once as ``Annotated`` aliases."""

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from services.onboarding.auth import AuthenticationUnavailableError, Caller, TokenRejectedError, TokenVerifier
from services.onboarding.settings import OnboardingSettings
from services.onboarding.stripe import StripeApi


@dataclass(frozen=True)
class Onboarding:
    """Built once in ``create_app``."""

    settings: OnboardingSettings
    stripe: StripeApi
    verifier: TokenVerifier


def get_onboarding(request: Request) -> Onboarding:
    onboarding: Onboarding = request.app.state.onboarding
    return onboarding


OnboardingDep = Annotated[Onboarding, Depends(get_onboarding)]

_bearer = HTTPBearer(
    auto_error=False,
    scheme_name="memberToken",
    description="The member's token from the identity provider (a JWT); its `sub` is the member id.",
)


async def get_caller(
    onboarding: OnboardingDep, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> Caller:
    if not onboarding.verifier.configured:
        # Never open by accident: without a way to check tokens, nobody gets in.
        raise AuthenticationUnavailableError("no token verification is configured")
    if credentials is None:
        raise TokenRejectedError("missing_token", "send the member's token as Authorization: Bearer <jwt>")
    return await onboarding.verifier.caller(credentials.credentials)


CallerDep = Annotated[Caller, Depends(get_caller)]
