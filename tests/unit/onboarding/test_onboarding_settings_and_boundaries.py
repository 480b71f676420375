"""The onboarding settings `rosca up` passes (the rules' purity is tests/unit/test_architecture.py's)."""

import pytest
from pydantic import ValidationError

from services.onboarding.settings import OnboardingSettings
from services.runtime.entrypoint import ConfigurationError, load_settings


def test_the_stripe_key_has_no_default_and_the_rest_have_the_documented_ones(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ROSCA_ONBOARDING_DATABASE_URL", "postgresql://rosca@127.0.0.1/rosca_onboarding")
    with pytest.raises(ConfigurationError, match="ROSCA_ONBOARDING_STRIPE_API_KEY: Field required"):
        load_settings(OnboardingSettings)

    monkeypatch.setenv("ROSCA_ONBOARDING_STRIPE_API_KEY", "sk_test_from_the_environment")
    settings = load_settings(OnboardingSettings)
    assert settings.stripe_api_key.get_secret_value() == "sk_test_from_the_environment"
    assert "sk_test_from_the_environment" not in repr(settings)
    assert settings.stripe_api_base_url == "https://api.stripe.com"
    assert (settings.jwt_hs256_secret, settings.jwt_jwks_url, settings.jwt_issuer) == (None, None, None)
    assert settings.jwt_audience == "rosca"
    assert settings.http_port == 8101


def test_the_token_settings_come_from_the_names_rosca_up_passes(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {
        "DATABASE_URL": "postgresql://rosca@127.0.0.1/rosca_onboarding",
        "STRIPE_API_KEY": "sk_test_x",
        "STRIPE_API_BASE_URL": "http://127.0.0.1:12111",
        "JWT_HS256_SECRET": "s" * 32,
        "JWT_JWKS_URL": "https://id.example.com/.well-known/jwks.json",
        "JWT_AUDIENCE": "rosca-api",
        "JWT_ISSUER": "https://id.example.com/",
    }.items():
        monkeypatch.setenv(f"ROSCA_ONBOARDING_{name}", value)
    settings = OnboardingSettings()
    assert settings.stripe_api_base_url == "http://127.0.0.1:12111"
    assert settings.jwt_hs256_secret is not None
    assert settings.jwt_hs256_secret.get_secret_value() == "s" * 32
    assert (settings.jwt_jwks_url, settings.jwt_audience, settings.jwt_issuer) == (
        "https://id.example.com/.well-known/jwks.json",
        "rosca-api",
        "https://id.example.com/",
    )


def test_an_empty_optional_setting_is_unset_and_a_short_secret_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ROSCA_ONBOARDING_DATABASE_URL", "postgresql://rosca@127.0.0.1/rosca_onboarding")
    monkeypatch.setenv("ROSCA_ONBOARDING_STRIPE_API_KEY", "sk_test_x")
    monkeypatch.setenv("ROSCA_ONBOARDING_JWT_HS256_SECRET", "")
    monkeypatch.setenv("ROSCA_ONBOARDING_JWT_ISSUER", "")
    settings = OnboardingSettings()
    assert (settings.jwt_hs256_secret, settings.jwt_issuer) == (None, None)
    monkeypatch.setenv("ROSCA_ONBOARDING_JWT_HS256_SECRET", "too-short")
    with pytest.raises(ValidationError, match="at least 32 characters"):
        OnboardingSettings()
