"""Development member tokens for the stack in a data dir, signed with the secret that stack verifies.

The secret is the one ``rosca up`` generated into ``<data-dir>/secrets.env``: as the running stack
gave it to onboarding (``env/onboarding.env``), else as the next ``rosca up`` will. A
``ROSCA_ONBOARDING_*`` variable of the caller's shell never takes part: it may belong to another
stack, and a token signed with it would be refused with no hint why.
"""

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

from pydantic import SecretStr, ValidationError

from rosca.console import warn
from rosca.errors import CliError, UsageError
from rosca.stack.local_secrets import read_env_file, secrets_path
from rosca.stack.state import running_stack, service_environment_path
from rosca.stack.stripe import JWT_AUDIENCE
from services.runtime.member_tokens import MemberTokenSettings, mint_token

SECRET_VARIABLE = "ROSCA_ONBOARDING_JWT_HS256_SECRET"  # noqa: S105  # a variable's name
AUDIENCE_VARIABLE = "ROSCA_ONBOARDING_JWT_AUDIENCE"
ISSUER_VARIABLE = "ROSCA_ONBOARDING_JWT_ISSUER"


def stack_token_settings(data_dir: Path) -> MemberTokenSettings:
    """How the stack in ``data_dir`` verifies member tokens (HS256 with its own secret)."""
    source = (
        service_environment_path(data_dir, "onboarding")
        if running_stack(data_dir) is not None
        else secrets_path(data_dir)
    )
    values = read_env_file(source)
    secret = values.get(SECRET_VARIABLE)
    if not secret:
        raise CliError(
            f"no {SECRET_VARIABLE} in {source}: start the stack once with `make up` "
            f"(or `rosca up --data-dir {data_dir}`), which generates it"
        )
    if os.environ.get(SECRET_VARIABLE, secret) != secret:
        warn(f"note: {SECRET_VARIABLE} of your environment is ignored; signing with the one in {source}")
    try:
        return MemberTokenSettings(
            jwt_hs256_secret=SecretStr(secret),
            jwt_jwks_url=None,
            jwt_audience=values.get(AUDIENCE_VARIABLE) or JWT_AUDIENCE,
            jwt_issuer=values.get(ISSUER_VARIABLE) or None,
        )
    except ValidationError as invalid:
        problems = "; ".join(str(problem["msg"]) for problem in invalid.errors())
        raise CliError(f"{source}: the token settings are unusable ({problems})") from None


def stack_member_token(
    data_dir: Path, member_id: str, *, lifetime: timedelta, email: str | None, name: str | None
) -> str:
    settings = stack_token_settings(data_dir)
    try:
        # Tokens live in real time (see services/runtime/member_auth.py), whatever the stack's clock is.
        return mint_token(
            settings, member_id, lifetime=lifetime, issued_at=datetime.now(UTC), email=email, name=name
        )
    except ValueError as error:
        raise UsageError(str(error)) from None
