"""The edge every service shares: one error body, a request body limit, member tokens, readiness."""

from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import httpx
import pytest
from fastapi import APIRouter, FastAPI, Query, Request
from pydantic import BaseModel, SecretStr
from pydantic_settings import SettingsConfigDict

from services.collections.main import DEFINITION as COLLECTIONS
from services.collections.main import create_app as collections_app
from services.collections.settings import CollectionsSettings
from services.onboarding.main import create_app as onboarding_app
from services.onboarding.settings import OnboardingSettings
from services.payouts.main import DEFINITION as PAYOUTS
from services.payouts.main import create_app as payouts_app
from services.payouts.settings import PayoutsSettings
from services.runtime.errors import ErrorBody, refuse_domain_errors
from services.runtime.member_auth import CallerDep
from services.runtime.member_tokens import MemberTokenSettings, mint_token
from services.runtime.service import ServiceDefinition, ServiceRuntime, create_service_app
from services.runtime.settings import ServiceSettings
from services.scheduler.main import DEFINITION as SCHEDULER
from services.scheduler.main import create_app as scheduler_app
from services.scheduler.settings import SchedulerSettings
from services.webhooks.main import create_app as webhooks_app
from services.webhooks.settings import WebhooksSettings

# Nothing listens here: the apps are called in-process, their lifespans (and so connections) never run.
DATABASE = "postgresql+psycopg://nobody@127.0.0.1:1/none"
SECRET = "a-development-secret-of-32-characters-at-least"
LIMIT = 4_096

SERVICE_APPS: dict[str, Callable[[], FastAPI]] = {
    "onboarding": lambda: onboarding_app(
        OnboardingSettings(
            database_url=DATABASE, stripe_api_key=SecretStr("sk_test_x"), max_request_body_bytes=LIMIT
        )
    ),
    "collections": lambda: collections_app(
        CollectionsSettings(
            database_url=DATABASE, stripe_api_key=SecretStr("sk_test_x"), max_request_body_bytes=LIMIT
        )
    ),
    "payouts": lambda: payouts_app(
        PayoutsSettings(
            database_url=DATABASE, stripe_api_key=SecretStr("sk_test_x"), max_request_body_bytes=LIMIT
        )
    ),
    "webhooks": lambda: webhooks_app(WebhooksSettings(database_url=DATABASE, max_request_body_bytes=LIMIT)),
    "scheduler": lambda: scheduler_app(
        SchedulerSettings(database_url=DATABASE, max_request_body_bytes=LIMIT)
    ),
}


def client(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://edge")


def assert_error_body(answer: httpx.Response, status: int, kind: str) -> dict[str, Any]:
    assert answer.status_code == status, answer.text
    body: dict[str, Any] = answer.json()
    ErrorBody.model_validate(body)
    assert set(body) == {"error"}
    assert set(body["error"]) <= {"type", "message", "problems"}
    assert body["error"]["type"] == kind
    assert body["error"]["message"]
    error: dict[str, Any] = body["error"]
    return error


@pytest.mark.parametrize("service", sorted(SERVICE_APPS))
async def test_every_service_answers_an_unknown_route_and_method_in_the_one_error_body(service: str) -> None:
    async with client(SERVICE_APPS[service]()) as http:
        assert_error_body(await http.get(f"/{service}/no-such-thing"), 404, "not_found")
        assert_error_body(await http.delete(f"/{service}/healthz"), 405, "method_not_allowed")


@pytest.mark.parametrize("service", sorted(SERVICE_APPS))
async def test_every_service_refuses_a_body_over_its_limit_with_413_in_the_one_error_body(
    service: str,
) -> None:
    async with client(SERVICE_APPS[service]()) as http:
        declared = await http.post(f"/{service}/anything", content=b"x" * (LIMIT + 1))
        assert_error_body(declared, 413, "request_too_large")


@pytest.mark.parametrize(
    ("service", "path"), [("onboarding", "/onboarding/members"), ("webhooks", "/webhooks/admin/replay")]
)
async def test_a_body_that_is_not_json_is_a_400_naming_the_body_not_a_422(service: str, path: str) -> None:
    async with client(SERVICE_APPS[service]()) as http:
        answer = await http.post(path, content=b'{"email": "a@example.com",', headers=JSON)
    error = assert_error_body(answer, 400, "malformed_json")
    assert [problem["field"] for problem in error["problems"]] == ["body"]


JSON = {"Content-Type": "application/json"}


class Terms(BaseModel):
    size: int


class FieldProblem:
    def __init__(self, field: str, message: str) -> None:
        self.field = field
        self.message = message


class DomainError(Exception):
    kind = "refused"


class GroupFullError(DomainError):
    kind = "group_full"


class InvalidTermsError(DomainError):
    kind = "invalid_terms"

    def __init__(self) -> None:
        super().__init__("size: must be 2 to 20")
        self.problems = (FieldProblem("size", "must be 2 to 20"),)


class Seen:
    def __init__(self) -> None:
        self.bodies: list[int] = []
        self.called = 0


def probe_app(seen: Seen, settings: ServiceSettings | None = None) -> FastAPI:
    router = APIRouter()

    @router.post("/terms")
    async def take_terms(terms: Terms) -> dict[str, int]:
        seen.called += 1
        return {"size": terms.size}

    @router.post("/raw")
    async def take_raw(request: Request) -> dict[str, int]:
        seen.called += 1
        body = await request.body()
        seen.bodies.append(len(body))
        return {"length": len(body)}

    @router.get("/page")
    async def page(limit: Annotated[int, Query(ge=1, le=10)]) -> dict[str, int]:
        return {"limit": limit}

    @router.post("/full")
    async def full() -> None:
        raise GroupFullError("the group is full")

    @router.post("/invalid")
    async def invalid() -> None:
        raise InvalidTermsError

    @router.post("/other")
    async def other() -> None:
        raise DomainError("not now")

    @router.get("/me")
    async def me(caller: CallerDep) -> dict[str, str]:
        return {"member_id": caller.member_id}

    @router.get("/boom")
    async def boom() -> None:
        raise RuntimeError("a bug")

    definition = ServiceDefinition(
        name="probe", title="probe", description="", migrations_dir=COLLECTIONS.migrations_dir, api=router
    )
    app = create_service_app(
        definition, settings or ProbeSettings(database_url=DATABASE, max_request_body_bytes=LIMIT)
    )
    refuse_domain_errors(app, DomainError, {GroupFullError: 409, InvalidTermsError: 422}, default_status=400)
    return app


class ProbeSettings(ServiceSettings, MemberTokenSettings):
    model_config = SettingsConfigDict(env_prefix="ROSCA_PROBE_", extra="ignore", frozen=True)


async def test_invalid_input_is_a_422_naming_each_field() -> None:
    async with client(probe_app(Seen())) as http:
        error = assert_error_body(
            await http.post("/probe/terms", json={"size": "three"}), 422, "invalid_request"
        )
        assert [p["field"] for p in error["problems"]] == ["body.size"]
        error = assert_error_body(await http.get("/probe/page", params={"limit": 99}), 422, "invalid_request")
        assert [p["field"] for p in error["problems"]] == ["query.limit"]


async def test_a_malformed_json_body_is_a_400_with_its_position() -> None:
    seen = Seen()
    async with client(probe_app(seen)) as http:
        error = assert_error_body(
            await http.post("/probe/terms", content=b'{"size": 3,', headers=JSON), 400, "malformed_json"
        )
    assert error["problems"][0]["field"] == "body"
    assert "character 11" in error["problems"][0]["message"]
    assert seen.called == 0


async def test_a_service_maps_its_domain_errors_to_statuses_with_their_codes_and_fields() -> None:
    async with client(probe_app(Seen())) as http:
        assert_error_body(await http.post("/probe/full"), 409, "group_full")
        error = assert_error_body(await http.post("/probe/invalid"), 422, "invalid_terms")
        assert error["problems"] == [{"field": "size", "message": "must be 2 to 20"}]
        assert_error_body(await http.post("/probe/other"), 400, "refused")


async def test_an_unexpected_error_is_a_500_in_the_same_body() -> None:
    transport = httpx.ASGITransport(app=probe_app(Seen()), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://edge") as http:
        assert_error_body(await http.get("/probe/boom"), 500, "internal_error")


async def test_a_declared_oversize_body_is_refused_before_the_app_runs() -> None:
    seen = Seen()
    async with client(probe_app(seen)) as http:
        assert_error_body(await http.post("/probe/raw", content=b"x" * (LIMIT + 1)), 413, "request_too_large")
        assert (await http.post("/probe/raw", content=b"x" * LIMIT)).json() == {"length": LIMIT}
    assert seen.called == 1
    assert seen.bodies == [LIMIT]


class Upload:
    """A chunked body (no Content-Length) of ``chunks`` MiB, counting what the server pulled."""

    def __init__(self, chunks: int) -> None:
        self.chunks = chunks
        self.pulled = 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for _ in range(self.chunks):
            self.pulled += 1
            yield b"x" * 1_048_576


@pytest.mark.parametrize("path", ["/probe/raw", "/probe/terms"])
async def test_a_streamed_oversize_body_is_refused_as_it_crosses_the_limit_and_no_handler_sees_it(
    path: str,
) -> None:
    seen = Seen()
    upload = Upload(chunks=200)
    settings = ProbeSettings(database_url=DATABASE, max_request_body_bytes=1_048_576 + 1)
    async with client(probe_app(seen, settings)) as http:
        answer = await http.post(path, content=upload, headers=JSON)
    assert_error_body(answer, 413, "request_too_large")
    assert "content-length" not in answer.request.headers
    # Two of 200 MiB were read, the second crossing the limit: the rest never left the client.
    assert upload.pulled == 2
    assert seen.bodies == []


async def test_member_routes_take_a_verified_token_in_any_service_that_declares_the_settings() -> None:
    settings = ProbeSettings(database_url=DATABASE, jwt_hs256_secret=SecretStr(SECRET))
    token = mint_token(settings, "ada", lifetime=timedelta(minutes=5), issued_at=datetime.now(UTC))
    async with client(probe_app(Seen(), settings)) as http:
        assert (await http.get("/probe/me", headers={"Authorization": f"Bearer {token}"})).json() == {
            "member_id": "ada"
        }
        missing = await http.get("/probe/me")
        assert_error_body(missing, 401, "missing_token")
        assert missing.headers["WWW-Authenticate"].startswith("Bearer")
        forged = mint_token(
            ProbeSettings(database_url=DATABASE, jwt_hs256_secret=SecretStr(SECRET[::-1])),
            "ada",
            lifetime=timedelta(minutes=5),
            issued_at=datetime.now(UTC),
        )
        assert_error_body(
            await http.get("/probe/me", headers={"Authorization": f"Bearer {forged}"}),
            401,
            "invalid_signature",
        )
    async with client(probe_app(Seen(), ProbeSettings(database_url=DATABASE))) as http:
        assert_error_body(
            await http.get("/probe/me", headers={"Authorization": f"Bearer {token}"}),
            503,
            "authentication_unavailable",
        )


@pytest.mark.parametrize(
    ("settings", "prefix"), [(CollectionsSettings, "COLLECTIONS"), (PayoutsSettings, "PAYOUTS")]
)
def test_collections_and_payouts_read_member_token_and_stripe_settings_under_their_prefix(
    settings: type[ServiceSettings], prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(f"ROSCA_{prefix}_DATABASE_URL", DATABASE)
    monkeypatch.setenv(f"ROSCA_{prefix}_JWT_HS256_SECRET", SECRET)
    monkeypatch.setenv(f"ROSCA_{prefix}_JWT_ISSUER", "https://id.example.com/")
    monkeypatch.setenv(f"ROSCA_{prefix}_STRIPE_API_KEY", "sk_test_abc")
    monkeypatch.setenv(f"ROSCA_{prefix}_STRIPE_REQUESTS_PER_SECOND", "100")
    monkeypatch.setenv(f"ROSCA_{prefix}_MAX_REQUEST_BODY_BYTES", "65536")
    loaded: Any = settings()
    assert loaded.jwt_hs256_secret.get_secret_value() == SECRET
    assert loaded.jwt_issuer == "https://id.example.com/"
    assert loaded.stripe_api_key.get_secret_value() == "sk_test_abc"
    assert loaded.stripe_requests_per_second == 100
    assert loaded.max_request_body_bytes == 65_536


def runtime_of(definition: ServiceDefinition) -> ServiceRuntime:
    return ServiceRuntime(definition, ProbeSettings(database_url=DATABASE))


async def test_a_service_without_consumers_says_so_rather_than_ok() -> None:
    checks = await runtime_of(replace(PAYOUTS, messages=None)).readiness()
    assert checks["consumers"] == "none"


async def test_consumers_that_have_not_started_are_not_reported_ok() -> None:
    assert SCHEDULER.messages is not None
    assert SCHEDULER.messages.subscriptions
    checks = await runtime_of(SCHEDULER).readiness()
    assert checks["consumers"] == "not started"


@pytest.mark.parametrize(
    ("checks", "status"),
    [
        ({"database": "ok", "consumers": "none"}, 200),
        ({"database": "ok", "consumers": "not started"}, 503),
        ({"database": "unreachable: refused", "consumers": "none"}, 503),
    ],
)
async def test_readyz_counts_none_as_ready_and_anything_else_as_not(
    checks: dict[str, str], status: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = payouts_app(PayoutsSettings(database_url=DATABASE, stripe_api_key=SecretStr("sk_test_x")))

    async def readiness() -> dict[str, str]:
        return checks

    monkeypatch.setattr(app.state.runtime, "readiness", readiness)
    async with client(app) as http:
        answer = await http.get("/payouts/readyz")
    assert answer.status_code == status
    assert answer.json()["checks"] == checks
