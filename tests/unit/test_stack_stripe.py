"""What ``rosca up`` tells each service about Stripe, and the secrets it keeps in the data dir."""

import stat
from pathlib import Path

import pytest

from rosca.errors import UsageError
from rosca.stack.local_secrets import LocalSecrets, local_secrets, read_env_file, secrets_path
from rosca.stack.stripe import (
    SIMULATOR_API_KEY,
    STRIPE_BASE_URL,
    configured_stripe,
    simulated_stripe,
    stripe_service_settings,
)

SECRETS = LocalSecrets(
    webhooks_operator_token="webhooks-token-0123456789",
    scheduler_operator_token="scheduler-token-0123456789",
    collections_operator_token="collections-token-0123456789",
    payouts_operator_token="payouts-token-0123456789",
    onboarding_jwt_hs256_secret="jwt-secret-0123456789",
)


def test_without_a_key_the_simulator_stands_in() -> None:
    assert configured_stripe({}) is None
    assert configured_stripe({"STRIPE_API_KEY": "  "}) is None


def test_a_test_mode_key_points_every_service_at_stripe() -> None:
    access = configured_stripe(
        {
            "STRIPE_API_KEY": "sk_test_abc",
            "STRIPE_WEBHOOK_PLATFORM_SECRET": "whsec_old,whsec_new",
            "STRIPE_WEBHOOK_CONNECT_SECRET": "whsec_connect",
        }
    )

    assert access is not None
    settings = stripe_service_settings(access, SECRETS)
    for service in ("onboarding", "collections", "payouts", "webhooks"):
        assert settings[service]["STRIPE_API_KEY"] == "sk_test_abc"
        assert settings[service]["STRIPE_API_BASE_URL"] == STRIPE_BASE_URL
    assert settings["webhooks"]["PLATFORM_SIGNING_SECRETS"] == "whsec_old,whsec_new"
    assert settings["webhooks"]["CONNECT_SIGNING_SECRETS"] == "whsec_connect"
    assert access.missing_secrets() == []


def test_a_signing_secret_left_out_is_named_and_left_unset() -> None:
    access = configured_stripe(
        {"STRIPE_API_KEY": "rk_test_abc", "STRIPE_API_BASE_URL": "http://127.0.0.1:9/"}
    )

    assert access is not None
    assert access.api_base_url == "http://127.0.0.1:9"
    assert access.missing_secrets() == ["STRIPE_WEBHOOK_PLATFORM_SECRET", "STRIPE_WEBHOOK_CONNECT_SECRET"]
    webhooks = stripe_service_settings(access, SECRETS)["webhooks"]
    assert "PLATFORM_SIGNING_SECRETS" not in webhooks
    assert "CONNECT_SIGNING_SECRETS" not in webhooks


@pytest.mark.parametrize(
    ("key", "complaint"),
    [
        ("sk_live_abc", "live-mode key"),
        ("rk_live_abc", "live-mode key"),
        ("pk_test_abc", "expects a Stripe test-mode key"),
        ("whsec_abc", "expects a Stripe test-mode key"),
    ],
)
def test_anything_but_a_test_mode_secret_key_is_refused(key: str, complaint: str) -> None:
    with pytest.raises(UsageError, match=complaint):
        configured_stripe({"STRIPE_API_KEY": key})


def test_a_base_url_that_is_no_url_is_refused() -> None:
    with pytest.raises(UsageError, match="STRIPE_API_BASE_URL"):
        configured_stripe({"STRIPE_API_KEY": "sk_test_abc", "STRIPE_API_BASE_URL": "api.stripe.com"})


def test_each_service_gets_only_its_own_secrets() -> None:
    access = simulated_stripe("http://127.0.0.1:12111", {"platform": "whsec_p", "connect": "whsec_c"})

    settings = stripe_service_settings(access, SECRETS)

    assert settings["webhooks"] == {
        "STRIPE_API_KEY": SIMULATOR_API_KEY,
        "STRIPE_API_BASE_URL": "http://127.0.0.1:12111",
        "PLATFORM_SIGNING_SECRETS": "whsec_p",
        "CONNECT_SIGNING_SECRETS": "whsec_c",
        "OPERATOR_TOKEN": "webhooks-token-0123456789",
    }
    assert settings["scheduler"] == {"OPERATOR_TOKEN": "scheduler-token-0123456789"}
    for service in ("onboarding", "collections", "payouts"):
        assert settings[service]["JWT_HS256_SECRET"] == "jwt-secret-0123456789"
        assert settings[service]["JWT_AUDIENCE"] == "rosca"
        assert not {"PLATFORM_SIGNING_SECRETS", "CONNECT_SIGNING_SECRETS"} & set(settings[service])
    assert "OPERATOR_TOKEN" not in settings["onboarding"]
    assert settings["payouts"]["OPERATOR_TOKEN"] == "payouts-token-0123456789"
    assert settings["collections"]["OPERATOR_TOKEN"] == "collections-token-0123456789"
    assert set(settings["collections"]) == {
        "STRIPE_API_KEY",
        "STRIPE_API_BASE_URL",
        "JWT_HS256_SECRET",
        "JWT_AUDIENCE",
        "OPERATOR_TOKEN",
    }


def test_local_secrets_are_generated_once_and_kept_owner_only(tmp_path: Path) -> None:
    first = local_secrets(tmp_path)
    again = local_secrets(tmp_path)

    assert again == first
    operator_tokens = {
        first.webhooks_operator_token,
        first.scheduler_operator_token,
        first.collections_operator_token,
        first.payouts_operator_token,
    }
    assert len(operator_tokens) == 4
    assert all(len(value) >= 32 for value in vars(first).values())
    assert stat.S_IMODE(secrets_path(tmp_path).stat().st_mode) == 0o600
    kept = read_env_file(secrets_path(tmp_path))
    assert kept["ROSCA_WEBHOOKS_OPERATOR_TOKEN"] == first.webhooks_operator_token


def test_a_secret_deleted_from_the_file_is_regenerated_and_the_others_kept(tmp_path: Path) -> None:
    first = local_secrets(tmp_path)
    path = secrets_path(tmp_path)
    path.write_text(
        "\n".join(line for line in path.read_text().splitlines() if "SCHEDULER" not in line) + "\n"
    )

    second = local_secrets(tmp_path)

    assert second.webhooks_operator_token == first.webhooks_operator_token
    assert second.onboarding_jwt_hs256_secret == first.onboarding_jwt_hs256_secret
    assert second.scheduler_operator_token != first.scheduler_operator_token
    assert "ROSCA_SCHEDULER_OPERATOR_TOKEN" in read_env_file(path)
