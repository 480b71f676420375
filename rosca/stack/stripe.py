"""Which Stripe the local stack talks to, and what each service is told about it.

With no ``STRIPE_API_KEY`` in the environment, ``rosca up`` starts the Stripe simulator and registers
the webhook endpoints on it itself; with a test-mode key, the services talk to Stripe, and the
signing secrets of the endpoints registered there come from ``STRIPE_WEBHOOK_*_SECRET``.
"""

from collections.abc import Mapping
from dataclasses import dataclass

from rosca.errors import UsageError
from rosca.stack.local_secrets import LocalSecrets

STRIPE_API_KEY = "STRIPE_API_KEY"
STRIPE_API_BASE_URL = "STRIPE_API_BASE_URL"
STRIPE_WEBHOOK_PLATFORM_SECRET = "STRIPE_WEBHOOK_PLATFORM_SECRET"  # noqa: S105  # a variable's name
STRIPE_WEBHOOK_CONNECT_SECRET = "STRIPE_WEBHOOK_CONNECT_SECRET"  # noqa: S105  # a variable's name

STRIPE_BASE_URL = "https://api.stripe.com"
# The simulator takes any sk_test_ key: this one is no secret.
SIMULATOR_API_KEY = "sk_test_rosca_simulator"
JWT_AUDIENCE = "rosca"

# Where the webhooks service takes each kind of delivery, under the gateway.
WEBHOOK_PATHS = {"platform": "/webhooks/stripe/platform", "connect": "/webhooks/stripe/connect"}

_TEST_MODE_PREFIXES = ("sk_test_", "rk_test_")
_LIVE_MODE_PREFIXES = ("sk_live_", "rk_live_")


@dataclass(frozen=True)
class StripeAccess:
    api_key: str
    api_base_url: str
    # Comma-separated, two during a rotation; empty when not configured.
    platform_signing_secrets: str
    connect_signing_secrets: str

    def missing_secrets(self) -> list[str]:
        configured = {
            STRIPE_WEBHOOK_PLATFORM_SECRET: self.platform_signing_secrets,
            STRIPE_WEBHOOK_CONNECT_SECRET: self.connect_signing_secrets,
        }
        return [name for name, value in configured.items() if not value]


def configured_stripe(environ: Mapping[str, str]) -> StripeAccess | None:
    """Stripe test mode as the environment configures it, or None when the simulator stands in."""
    api_key = environ.get(STRIPE_API_KEY, "").strip()
    if not api_key:
        return None
    if api_key.startswith(_LIVE_MODE_PREFIXES):
        raise UsageError(
            f"{STRIPE_API_KEY} is a live-mode key: `rosca up` runs against Stripe test mode only "
            "(sk_test_… or rk_test_…)"
        )
    if not api_key.startswith(_TEST_MODE_PREFIXES):
        raise UsageError(
            f"{STRIPE_API_KEY} expects a Stripe test-mode key (sk_test_… or rk_test_…); "
            "leave it unset to run on the Stripe simulator"
        )
    base_url = environ.get(STRIPE_API_BASE_URL, "").strip().rstrip("/") or STRIPE_BASE_URL
    if not base_url.startswith(("http://", "https://")):
        raise UsageError(f"{STRIPE_API_BASE_URL} expects an http(s) URL, not {base_url!r}")
    return StripeAccess(
        api_key=api_key,
        api_base_url=base_url,
        platform_signing_secrets=environ.get(STRIPE_WEBHOOK_PLATFORM_SECRET, "").strip(),
        connect_signing_secrets=environ.get(STRIPE_WEBHOOK_CONNECT_SECRET, "").strip(),
    )


def simulated_stripe(base_url: str, signing_secrets: Mapping[str, str]) -> StripeAccess:
    return StripeAccess(
        api_key=SIMULATOR_API_KEY,
        api_base_url=base_url,
        platform_signing_secrets=signing_secrets["platform"],
        connect_signing_secrets=signing_secrets["connect"],
    )


def stripe_service_settings(access: StripeAccess, local_secrets: LocalSecrets) -> dict[str, dict[str, str]]:
    """Settings each service gets, by service name, without the ``ROSCA_<SERVICE>_`` prefix.

    Every service that calls Stripe gets the key and base URL, whether or not it reads them yet
    (their settings ignore what they do not know); only the webhooks service gets the signing
    secrets, only its owner each operator token; every service with member routes verifies member
    tokens with the one development secret.
    """
    stripe_client = {"STRIPE_API_KEY": access.api_key, "STRIPE_API_BASE_URL": access.api_base_url}
    signing = {
        "PLATFORM_SIGNING_SECRETS": access.platform_signing_secrets,
        "CONNECT_SIGNING_SECRETS": access.connect_signing_secrets,
    }
    # One member token is good at every service a member calls: the same secret and audience.
    member_tokens = {
        "JWT_HS256_SECRET": local_secrets.onboarding_jwt_hs256_secret,
        "JWT_AUDIENCE": JWT_AUDIENCE,
    }
    return {
        "onboarding": {**stripe_client, **member_tokens},
        "collections": {
            **stripe_client,
            **member_tokens,
            "OPERATOR_TOKEN": local_secrets.collections_operator_token,
        },
        "payouts": {
            **stripe_client,
            **member_tokens,
            "OPERATOR_TOKEN": local_secrets.payouts_operator_token,
        },
        "webhooks": {
            **stripe_client,
            # Not configured: left unset, so that a ROSCA_WEBHOOKS_* secret of the caller's applies.
            **{name: value for name, value in signing.items() if value},
            "OPERATOR_TOKEN": local_secrets.webhooks_operator_token,
        },
        "scheduler": {"OPERATOR_TOKEN": local_secrets.scheduler_operator_token},
    }
