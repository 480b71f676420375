"""Signing secrets from the environment, and the operator bearer-token check."""

from typing import Annotated

import pytest
from fastapi import Depends, FastAPI
from fastapi.testclient import TestClient
from pydantic import SecretStr, ValidationError

from services.runtime.errors import install_error_handlers
from services.runtime.operator_auth import operator_token_required
from services.webhooks.settings import WebhooksSettings

DATABASE = "postgresql+psycopg://rosca@127.0.0.1:5432/rosca_webhooks"


def settings_from(monkeypatch: pytest.MonkeyPatch, **variables: str) -> WebhooksSettings:
    monkeypatch.setenv("ROSCA_WEBHOOKS_DATABASE_URL", DATABASE)
    for name, value in variables.items():
        monkeypatch.setenv(f"ROSCA_WEBHOOKS_{name.upper()}", value)
    return WebhooksSettings()


def test_no_signing_secret_and_no_token_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = settings_from(monkeypatch)
    assert settings.platform_signing_secrets == []
    assert settings.connect_signing_secrets == []
    assert settings.operator_token is None
    assert settings.stripe_api_key is None
    assert (settings.signature_tolerance_seconds, settings.expected_livemode) == (300, False)


def test_backfill_takes_the_runtime_stripe_settings_under_the_services_prefix(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = settings_from(
        monkeypatch,
        stripe_api_key="rk_test_events_read",
        stripe_api_base_url="http://127.0.0.1:12111",
        stripe_requests_per_second="5",
        stripe_max_network_retries="1",
    )
    assert settings.stripe_api_key is not None
    assert settings.stripe_api_key.get_secret_value() == "rk_test_events_read"
    assert settings.stripe_api_base_url == "http://127.0.0.1:12111"
    assert (settings.stripe_requests_per_second, settings.stripe_max_network_retries) == (5.0, 1)
    assert settings_from(monkeypatch, stripe_api_key="").stripe_api_key is None


def test_secrets_come_comma_separated_or_as_a_json_list(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = settings_from(
        monkeypatch,
        platform_signing_secrets="whsec_old, whsec_new",
        connect_signing_secrets='["whsec_connect"]',
    )
    assert [s.get_secret_value() for s in settings.platform_signing_secrets] == ["whsec_old", "whsec_new"]
    assert [s.get_secret_value() for s in settings.connect_signing_secrets] == ["whsec_connect"]
    assert "whsec_old" not in repr(settings)


def test_more_than_two_active_secrets_is_a_configuration_error(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValidationError, match="at most 2"):
        settings_from(monkeypatch, platform_signing_secrets="whsec_a,whsec_b,whsec_c")


def test_a_blank_secret_is_a_configuration_error() -> None:
    with pytest.raises(ValidationError, match="blank"):
        WebhooksSettings(database_url=DATABASE, connect_signing_secrets=[SecretStr(" ")])


def operator_app(token: str | None) -> TestClient:
    app = FastAPI()
    install_error_handlers(app)
    required = operator_token_required(lambda _request: SecretStr(token) if token is not None else None)

    @app.get("/admin")
    def admin(_: Annotated[None, Depends(required)]) -> dict[str, str]:
        return {"ok": "yes"}

    return TestClient(app)


def test_operator_endpoints_are_closed_while_no_token_is_configured() -> None:
    answer = operator_app(None).get("/admin", headers={"Authorization": "Bearer anything"})
    assert answer.status_code == 503
    assert answer.json() == {
        "error": {"type": "operator_token_not_configured", "message": "operator token not configured"}
    }


@pytest.mark.parametrize("authorization", [None, "Bearer wrong-token-0123456789", "Basic abc", "Bearer "])
def test_a_missing_or_wrong_token_is_refused(authorization: str | None) -> None:
    headers = {"Authorization": authorization} if authorization else {}
    answer = operator_app("right-token-0123456789").get("/admin", headers=headers)
    assert answer.status_code == 401
    assert answer.headers["WWW-Authenticate"] == "Bearer"
    assert answer.json()["error"]["type"] == "unauthorized"


def test_the_right_token_passes() -> None:
    answer = operator_app("right-token-0123456789").get(
        "/admin", headers={"Authorization": "Bearer right-token-0123456789"}
    )
    assert answer.status_code == 200
