"""The gateway routes by path prefix, unchanged, to small upstream apps mounted in its HTTP client."""

import os
import subprocess
import sys
from collections.abc import AsyncIterator

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from rosca.gateway import create_gateway_app, parse_routes
from rosca.stack.ports import free_port

ONBOARDING = "http://onboarding.upstream"
PAYOUTS = "http://payouts.upstream:9000"


def echo_app(name: str) -> Starlette:
    async def echo(request: Request) -> Response:
        body = await request.body()
        answer = JSONResponse(
            {
                "upstream": name,
                "method": request.method,
                "raw_path": request.scope["raw_path"].decode(),
                "query": request.scope["query_string"].decode(),
                "headers": dict(request.headers.items()),
                "body": body.decode(),
            },
            status_code=201 if request.method == "POST" else 200,
        )
        answer.headers.append("set-cookie", "a=1")
        answer.headers.append("set-cookie", "b=2")
        answer.headers["x-upstream"] = name
        return answer

    methods = ["GET", "POST", "PUT", "DELETE", "PATCH"]
    return Starlette(routes=[Route("/{path:path}", echo, methods=methods)])


@pytest.fixture
async def gateway(unused_upstream: str) -> AsyncIterator[httpx.AsyncClient]:
    upstreams = httpx.AsyncClient(
        mounts={
            ONBOARDING: httpx.ASGITransport(app=echo_app("onboarding")),
            PAYOUTS: httpx.ASGITransport(app=echo_app("payouts")),
        }
    )
    app = create_gateway_app(
        {"onboarding": ONBOARDING, "payouts": PAYOUTS, "webhooks": unused_upstream}, client=upstreams
    )
    async with (
        upstreams,
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gateway.test") as client,
    ):
        yield client


@pytest.fixture
def unused_upstream() -> str:
    return f"http://127.0.0.1:{free_port()}"


async def test_routes_each_prefix_to_its_service_with_the_path_unchanged(gateway: httpx.AsyncClient) -> None:
    onboarding = await gateway.get("/onboarding/members/a%2Fb", params={"page": "2", "q": "x y"})
    payouts = await gateway.get("/payouts/readyz")

    assert onboarding.status_code == 200
    assert onboarding.json()["upstream"] == "onboarding"
    assert onboarding.json()["raw_path"] == "/onboarding/members/a%2Fb"
    assert onboarding.json()["query"] == "page=2&q=x+y"
    assert payouts.json()["upstream"] == "payouts"
    assert payouts.json()["raw_path"] == "/payouts/readyz"


async def test_forwards_method_headers_and_body_and_returns_the_upstream_answer(
    gateway: httpx.AsyncClient,
) -> None:
    answer = await gateway.post(
        "/onboarding/members",
        content=b'{"name": "Ana"}',
        headers={"content-type": "application/json", "authorization": "Bearer t0ken", "x-request-id": "r-1"},
    )

    echoed = answer.json()
    assert answer.status_code == 201
    assert echoed["method"] == "POST"
    assert echoed["body"] == '{"name": "Ana"}'
    assert echoed["headers"]["authorization"] == "Bearer t0ken"
    assert echoed["headers"]["x-request-id"] == "r-1"
    assert echoed["headers"]["host"] == "onboarding.upstream"
    assert echoed["headers"]["x-forwarded-proto"] == "http"
    assert echoed["headers"]["x-forwarded-host"] == "gateway.test"
    assert echoed["headers"]["x-forwarded-for"]
    assert answer.headers["x-upstream"] == "onboarding"
    assert answer.headers.get_list("set-cookie") == ["a=1", "b=2"]


async def test_appends_the_client_to_an_existing_forwarded_for_chain(gateway: httpx.AsyncClient) -> None:
    answer = await gateway.get("/payouts/x", headers={"x-forwarded-for": "203.0.113.9"})

    chain = answer.json()["headers"]["x-forwarded-for"].split(", ")
    assert chain[0] == "203.0.113.9"
    assert len(chain) == 2


async def test_an_unknown_prefix_is_a_404_listing_the_known_ones(gateway: httpx.AsyncClient) -> None:
    answer = await gateway.get("/nowhere/docs")

    assert answer.status_code == 404
    assert answer.json()["error"]["type"] == "unknown_service"
    assert answer.json()["error"]["services"] == ["/onboarding", "/payouts", "/webhooks"]


async def test_a_service_that_does_not_answer_is_a_502_naming_it(gateway: httpx.AsyncClient) -> None:
    answer = await gateway.get("/webhooks/readyz")

    assert answer.status_code == 502
    assert answer.json()["error"]["type"] == "upstream_unavailable"
    assert answer.json()["error"]["service"] == "webhooks"
    assert "webhooks" in answer.json()["error"]["message"]


async def test_the_index_lists_every_service_with_its_docs(gateway: httpx.AsyncClient) -> None:
    answer = await gateway.get("/")

    assert answer.status_code == 200
    assert [entry["docs"] for entry in answer.json()["services"]] == [
        "http://gateway.test/onboarding/docs",
        "http://gateway.test/payouts/docs",
        "http://gateway.test/webhooks/docs",
    ]


def test_routes_parse_from_name_equals_url_pairs() -> None:
    assert parse_routes("onboarding=http://127.0.0.1:8101/, stripe-sim=http://127.0.0.1:8200") == {
        "onboarding": "http://127.0.0.1:8101",
        "stripe-sim": "http://127.0.0.1:8200",
    }


@pytest.mark.parametrize(
    "routes",
    ["", "onboarding", "onboarding=127.0.0.1:8101", "Bad Name=http://x", "a=http://x,a=http://y"],
)
def test_malformed_routes_are_rejected(routes: str) -> None:
    with pytest.raises(ValueError, match=r"."):
        parse_routes(routes)


def test_the_gateway_process_names_a_bad_setting_and_exits_2() -> None:
    env = {**os.environ, "ROSCA_GATEWAY_ROUTES": "onboarding"}
    finished = subprocess.run(
        [sys.executable, "-m", "rosca.gateway"],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )

    assert finished.returncode == 2
    assert finished.stderr.startswith("configuration error: ROSCA_GATEWAY_ROUTES:")
