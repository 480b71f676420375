"""Who is calling: a member's bearer token (a JWT, OIDC style), verified with PyJWT, for any service.

Development signs tokens HS256 with a configured secret (``mint_token`` makes them); production
verifies RS256/ES256 tokens against the identity provider's JWKS. Either way the audience must
match, the issuer too when one is configured, and ``sub`` is the member id. A service takes member
tokens by adding ``MemberTokenSettings`` to its settings (``ROSCA_<SERVICE>_JWT_*``): the service
app then verifies with them, and a route asks for the member with ``CallerDep``. With nothing
configured, every member route answers 503: never open by accident.

Token lifetimes are judged on the wall clock, not the service clock: the identity provider issues
them in real time, and a simulated clock days ahead must not expire every token in a demo.
"""

import asyncio
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated, Any, Final

import jwt
from fastapi import Depends, FastAPI, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from services.runtime.errors import ApiError
from services.runtime.member_tokens import HS256, MEMBER_ID, MemberTokenSettings

JWKS_ALGORITHMS: Final = ("RS256", "ES256")
CLOCK_SKEW: Final = timedelta(seconds=30)


class TokenRejectedError(ApiError):
    """The request's token does not identify a member (answered 401)."""

    def __init__(self, kind: str, message: str) -> None:
        challenge = f'Bearer error="invalid_token", error_description="{message}"'
        super().__init__(401, kind, message, headers={"WWW-Authenticate": challenge})


class AuthenticationUnavailableError(ApiError):
    """Tokens cannot be checked now: nothing configured, or the JWKS unreachable (answered 503)."""

    def __init__(self, message: str) -> None:
        super().__init__(503, "authentication_unavailable", message)


@dataclass(frozen=True)
class Caller:
    member_id: str
    email: str | None = None
    name: str | None = None


class TokenVerifier:
    def __init__(self, settings: MemberTokenSettings) -> None:
        self._settings = settings
        self._secret = settings.jwt_hs256_secret.get_secret_value() if settings.jwt_hs256_secret else None
        self._jwks = (
            jwt.PyJWKClient(settings.jwt_jwks_url, cache_keys=True, lifespan=600, timeout=5)
            if settings.jwt_jwks_url
            else None
        )

    @property
    def configured(self) -> bool:
        return self._secret is not None or self._jwks is not None

    async def caller(self, token: str) -> Caller:
        claims = await self._verified_claims(token)
        member_id = claims.get("sub")
        if not isinstance(member_id, str) or not MEMBER_ID.match(member_id):
            raise TokenRejectedError("invalid_token", "the token's sub is not a usable member id")
        return Caller(member_id, _text_claim(claims, "email"), _text_claim(claims, "name"))

    async def _verified_claims(self, token: str) -> dict[str, Any]:
        if not self.configured:
            raise AuthenticationUnavailableError("no token verification is configured")
        try:
            algorithm = jwt.get_unverified_header(token).get("alg")
        except jwt.PyJWTError:
            raise TokenRejectedError("invalid_token", "the bearer token is not a JWT") from None
        if algorithm == HS256 and self._secret is not None:
            key: Any = self._secret
            algorithms: tuple[str, ...] = (HS256,)
        elif algorithm in JWKS_ALGORITHMS and self._jwks is not None:
            key = await self._signing_key(token)
            algorithms = JWKS_ALGORITHMS
        else:
            raise TokenRejectedError("invalid_token", f"tokens signed with {algorithm!r} are not accepted")
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key,
                algorithms=list(algorithms),
                audience=self._settings.jwt_audience,
                issuer=self._settings.jwt_issuer,
                leeway=CLOCK_SKEW,
                options={"require": ["exp", "sub", "aud"]},
            )
        except jwt.ExpiredSignatureError:
            raise TokenRejectedError("token_expired", "the token has expired") from None
        except jwt.InvalidAudienceError:
            raise TokenRejectedError(
                "invalid_audience",
                f"the token is not for this API (audience {self._settings.jwt_audience!r})",
            ) from None
        except jwt.InvalidIssuerError:
            raise TokenRejectedError("invalid_issuer", "the token's issuer is not accepted") from None
        except jwt.InvalidSignatureError:
            raise TokenRejectedError("invalid_signature", "the token's signature does not verify") from None
        except jwt.MissingRequiredClaimError as error:
            raise TokenRejectedError("invalid_token", f"the token has no {error.claim!r} claim") from None
        except jwt.PyJWTError as error:
            raise TokenRejectedError("invalid_token", f"the token is not valid: {error}") from None
        return claims

    async def _signing_key(self, token: str) -> Any:
        assert self._jwks is not None
        try:
            # PyJWKClient fetches with urllib (blocking); its cache makes most calls instant.
            return (await asyncio.to_thread(self._jwks.get_signing_key_from_jwt, token)).key
        except jwt.PyJWKClientConnectionError as error:
            raise AuthenticationUnavailableError(
                f"the identity provider's keys are unreachable: {error}"
            ) from None
        except jwt.PyJWTError as error:
            raise TokenRejectedError(
                "invalid_signature", f"no key of the identity provider fits: {error}"
            ) from None


def _text_claim(claims: dict[str, Any], name: str) -> str | None:
    value = claims.get(name)
    return value if isinstance(value, str) and value else None


_bearer = HTTPBearer(
    auto_error=False,
    scheme_name="memberToken",
    description="The member's token from the identity provider (a JWT); its `sub` is the member id.",
)


def install_member_auth(app: FastAPI, settings: MemberTokenSettings) -> None:
    """Let ``app``'s routes ask for the calling member (``CallerDep``), verified with ``settings``."""
    app.state.member_token_verifier = TokenVerifier(settings)


async def get_caller(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> Caller:
    verifier: TokenVerifier | None = getattr(request.app.state, "member_token_verifier", None)
    if verifier is None or not verifier.configured:
        # Never open by accident: without a way to check tokens, nobody gets in.
        raise AuthenticationUnavailableError("no token verification is configured")
    if credentials is None:
        raise TokenRejectedError("missing_token", "send the member's token as Authorization: Bearer <jwt>")
    return await verifier.caller(credentials.credentials)


CallerDep = Annotated[Caller, Depends(get_caller)]
