"""Development commands of the onboarding service: ``mint-token`` makes a member's bearer token.

Configured like the service (``ROSCA_ONBOARDING_JWT_*``), but needs only the token settings:
``python -m services.onboarding.cli mint-token --sub alice --ttl 8h``.
"""

from datetime import UTC, datetime
from typing import Annotated

import typer

from services.onboarding.settings import TokenSettings
from services.runtime.clock import parse_duration
from services.runtime.entrypoint import ConfigurationError, load_settings
from services.runtime.member_tokens import SigningSecretMissingError, mint_token

app = typer.Typer(
    name="onboarding",
    help="Onboarding development commands (ROSCA_ONBOARDING_* settings).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def onboarding() -> None:
    """Onboarding development commands (ROSCA_ONBOARDING_* settings)."""


@app.command("mint-token")
def mint_token_command(
    *,
    sub: Annotated[str, typer.Option("--sub", help="The member id the token is for (its `sub`).")],
    ttl: Annotated[str, typer.Option("--ttl", help="How long it is valid: 90m, 8h, 2d…")] = "1h",
    email: Annotated[str | None, typer.Option(help="An `email` claim (registration's default).")] = None,
    name: Annotated[str | None, typer.Option(help="A `name` claim (registration's default).")] = None,
) -> None:
    """Print a bearer token signed with ROSCA_ONBOARDING_JWT_HS256_SECRET (development only)."""
    try:
        lifetime = parse_duration(ttl)
    except ValueError as error:
        raise typer.BadParameter(str(error), param_hint="--ttl") from None
    try:
        settings = load_settings(TokenSettings)  # a bad one is named, its value never shown
        # Tokens live in real time (see runtime/member_auth.py): the wall clock, whatever the clock is.
        token = mint_token(
            settings, sub, lifetime=lifetime, issued_at=datetime.now(UTC), email=email, name=name
        )
    except (ConfigurationError, SigningSecretMissingError, ValueError) as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(2) from None
    typer.echo(token)


if __name__ == "__main__":
    app()
