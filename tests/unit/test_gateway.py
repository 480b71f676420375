"""The gateway routes by path prefix, unchanged, to small upstream apps served on loopback ports."""

import asyncio
import gzip
import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator, MutableMapping
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import unquote, urlsplit

import httpx
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response, StreamingResponse
from starlette.routing import Route

from rosca.gateway import create_gateway_app, parse_origins, parse_routes
from rosca.stack.ports import LOOPBACK, free_port

FRONTEND = "http://localhost:3000"
ENCODED_BODY = gzip.compress(b'{"encoded": true}')


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

    async def slow(_request: Request) -> Response:
        await asyncio.sleep(2)
        return JSONResponse({"upstream": name})

    async def encoded(_request: Request) -> Response:
        return Response(ENCODED_BODY, media_type="application/json", headers={"content-encoding": "gzip"})

    async def moved(_request: Request) -> Response:
        return RedirectResponse(f"/{name}/elsewhere", status_code=307)

    async def streamed(_request: Request) -> Response:
        async def chunks() -> AsyncIterator[bytes]:
            for number in range(3):
                yield f"chunk {number};".encode()
                await asyncio.sleep(0.01)

        return StreamingResponse(chunks(), media_type="text/plain")

    methods = ["GET", "POST", "PUT", "DELETE", "PATCH"]
    return Starlette(
        routes=[
            Route(f"/{name}/slow", slow),
            Route(f"/{name}/encoded", encoded),
            Route(f"/{name}/moved", moved),
            Route(f"/{name}/streamed", streamed),
            Route("/{path:path}", echo, methods=methods),
        ]
    )


@asynccontextmanager
async def serving(app: Starlette) -> AsyncIterator[str]:
    """``app`` served by uvicorn on a free loopback port, in this event loop; its base URL."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host=LOOPBACK, port=port, log_level="warning", lifespan="off")
    )
    serving_task = asyncio.create_task(server.serve())
    while not server.started:
        if serving_task.done():
            serving_task.result()
        await asyncio.sleep(0.01)
    try:
        yield f"http://{LOOPBACK}:{port}"
    finally:
        server.should_exit = True
        await serving_task


@pytest.fixture(scope="module")
async def upstreams() -> AsyncIterator[dict[str, str]]:
    async with serving(echo_app("onboarding")) as onboarding, serving(echo_app("payouts")) as payouts:
        yield {"onboarding": onboarding, "payouts": payouts}


@pytest.fixture
def gateway_app(upstreams: dict[str, str], unused_upstream: str) -> Starlette:
    return create_gateway_app(
        {**upstreams, "webhooks": unused_upstream}, cors_origins=[FRONTEND], answer_timeout=0.5
    )


@pytest.fixture
async def gateway(gateway_app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    async with calling(gateway_app) as client:
        yield client


@asynccontextmanager
async def calling(gateway_app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the gateway app, started as uvicorn starts it (its HTTP client opens and closes)."""
    transport = httpx.ASGITransport(app=gateway_app)
    async with (
        gateway_app.router.lifespan_context(gateway_app),
        httpx.AsyncClient(transport=transport, base_url="http://gateway.test") as client,
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
    gateway: httpx.AsyncClient, upstreams: dict[str, str]
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
    assert echoed["headers"]["host"] == urlsplit(upstreams["onboarding"]).netloc
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


async def test_a_service_that_answers_too_late_is_a_504_naming_it(gateway: httpx.AsyncClient) -> None:
    answer = await gateway.get("/payouts/slow")

    assert answer.status_code == 504
    assert answer.json()["error"]["type"] == "upstream_timeout"
    assert answer.json()["error"]["service"] == "payouts"


async def test_a_request_body_of_unknown_length_is_streamed_to_the_service(
    gateway: httpx.AsyncClient,
) -> None:
    async def parts() -> AsyncIterator[bytes]:
        for part in (b'{"name": ', b'"Ana"}'):
            yield part

    answer = await gateway.post("/onboarding/members", content=parts())

    assert answer.status_code == 201
    assert answer.json()["body"] == '{"name": "Ana"}'


async def test_the_service_gets_the_clients_headers_with_none_of_the_gateways_defaults_added(
    gateway: httpx.AsyncClient,
) -> None:
    answer = await gateway.post(
        "/onboarding/members",
        content=b"x",
        headers={"user-agent": "frontend/1", "accept-encoding": "identity"},
    )

    echoed = answer.json()["headers"]
    assert echoed["user-agent"] == "frontend/1"
    assert echoed["accept-encoding"] == "identity"
    assert "content-type" not in echoed


async def test_an_answer_streamed_by_the_service_reaches_the_client_whole(gateway: httpx.AsyncClient) -> None:
    answer = await gateway.get("/onboarding/streamed")

    assert answer.status_code == 200
    assert answer.text == "chunk 0;chunk 1;chunk 2;"


async def test_an_encoded_answer_passes_through_unchanged(gateway: httpx.AsyncClient) -> None:
    async with gateway.stream("GET", "/onboarding/encoded") as answer:
        raw = b"".join([chunk async for chunk in answer.aiter_raw()])

    assert answer.headers["content-encoding"] == "gzip"
    assert raw == ENCODED_BODY


async def test_a_redirect_is_returned_to_the_client_not_followed(gateway: httpx.AsyncClient) -> None:
    answer = await gateway.get("/onboarding/moved")

    assert answer.status_code == 307
    assert answer.headers["location"] == "/onboarding/elsewhere"


async def test_cookies_a_service_sets_are_not_sent_back_by_the_gateway(gateway: httpx.AsyncClient) -> None:
    first = await gateway.get("/onboarding/members/me")
    gateway.cookies.clear()  # the test's own client keeps cookies; the gateway must not
    second = await gateway.get("/onboarding/members/me")

    assert first.headers.get_list("set-cookie") == ["a=1", "b=2"]
    assert "cookie" not in second.json()["headers"]


async def test_the_index_lists_every_service_with_its_docs(gateway: httpx.AsyncClient) -> None:
    answer = await gateway.get("/")

    assert answer.status_code == 200
    assert [entry["docs"] for entry in answer.json()["services"]] == [
        "http://gateway.test/onboarding/docs",
        "http://gateway.test/payouts/docs",
        "http://gateway.test/webhooks/docs",
    ]


async def test_a_browser_app_on_a_configured_origin_may_call_the_api(gateway: httpx.AsyncClient) -> None:
    preflight = await gateway.options(
        "/onboarding/members",
        headers={
            "origin": FRONTEND,
            "access-control-request-method": "POST",
            "access-control-request-headers": "authorization, content-type",
        },
    )
    call = await gateway.post(
        "/onboarding/members",
        json={"email": "ana@example.com"},
        headers={"origin": FRONTEND, "authorization": "Bearer t0ken"},
    )

    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == FRONTEND
    allowed_methods = preflight.headers["access-control-allow-methods"].split(", ")
    assert {"GET", "POST", "PUT", "PATCH", "DELETE"} <= set(allowed_methods)
    allowed_headers = preflight.headers["access-control-allow-headers"].lower().split(", ")
    assert {"authorization", "content-type"} <= set(allowed_headers)
    assert call.status_code == 201
    assert call.json()["upstream"] == "onboarding"
    assert call.headers["access-control-allow-origin"] == FRONTEND


@pytest.mark.parametrize("origin", ["http://evil.example", "http://localhost:3001", "https://localhost:3000"])
async def test_an_origin_not_configured_gets_no_cors_grant(gateway: httpx.AsyncClient, origin: str) -> None:
    preflight = await gateway.options(
        "/onboarding/members",
        headers={"origin": origin, "access-control-request-method": "POST"},
    )
    call = await gateway.get("/onboarding/members/me", headers={"origin": origin})

    assert preflight.status_code == 400
    assert "access-control-allow-origin" not in preflight.headers
    assert call.json()["upstream"] == "onboarding"
    assert "access-control-allow-origin" not in call.headers


async def test_without_configured_origins_no_origin_is_granted(upstreams: dict[str, str]) -> None:
    app = create_gateway_app({"onboarding": upstreams["onboarding"]})
    async with calling(app) as client:
        call = await client.get("/onboarding/members/me", headers={"origin": FRONTEND})

    assert call.json()["upstream"] == "onboarding"
    assert "access-control-allow-origin" not in call.headers


@pytest.mark.parametrize(
    "path",
    [
        "/onboarding/metrics",
        "/payouts/metrics",
        "/onboarding/metrics/",
        "/onboarding//metrics",
        "/onboarding/%6detrics",
        "/onboarding%2Fmetrics",
    ],
)
async def test_a_services_metrics_are_not_served_through_the_gateway(
    gateway: httpx.AsyncClient, path: str
) -> None:
    answer = await gateway.get(path)

    assert answer.status_code == 404
    assert answer.json()["error"]["type"] == "not_found"
    assert "upstream" not in answer.json()


async def test_the_probes_stay_reachable_through_the_gateway(gateway: httpx.AsyncClient) -> None:
    for path in ("/onboarding/healthz", "/onboarding/readyz", "/onboarding/metrics-report"):
        answer = await gateway.get(path)
        assert answer.json()["raw_path"] == path


@pytest.mark.parametrize(
    "raw_path", [b"/onboarding/../metrics", b"/onboarding/%2e%2e/metrics", b"/payouts/./metrics"]
)
async def test_a_path_with_dot_segments_is_refused_so_no_service_root_is_reached(
    gateway_app: Starlette, raw_path: bytes
) -> None:
    # Sent as is: httpx would resolve the dot segments before the gateway saw them.
    status, body = await asgi_get(gateway_app, raw_path)

    assert status == 400
    assert body["error"]["type"] == "invalid_path"


async def asgi_get(app: Starlette, raw_path: bytes) -> tuple[int, Any]:
    """One GET of ``raw_path`` exactly as a client sent it, straight to the ASGI app."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": unquote(raw_path.decode()),
        "raw_path": raw_path,
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"gateway.test")],
        "client": ("127.0.0.1", 50000),
        "server": ("gateway.test", 80),
    }
    sent: list[MutableMapping[str, Any]] = []
    requested = False
    answered = asyncio.Event()

    async def receive() -> dict[str, Any]:
        nonlocal requested
        if not requested:
            requested = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await answered.wait()
        return {"type": "http.disconnect"}

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(message)
        if message["type"] == "http.response.body" and not message.get("more_body", False):
            answered.set()

    await app(scope, receive, send)
    body = b"".join(message.get("body", b"") for message in sent if message["type"] == "http.response.body")
    return sent[0]["status"], json.loads(body)


def test_origins_parse_to_what_browsers_send() -> None:
    assert parse_origins(" http://localhost:3000/, HTTPS://App.Example ,, http://localhost:3000") == [
        "http://localhost:3000",
        "https://app.example",
    ]
    assert parse_origins("") == []


@pytest.mark.parametrize("origins", ["localhost:3000", "http://localhost:3000/app", "ftp://x", "*"])
def test_malformed_origins_are_rejected(origins: str) -> None:
    with pytest.raises(ValueError, match="is not an origin"):
        parse_origins(origins)


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


def test_the_gateway_process_names_a_bad_origin_and_exits_2() -> None:
    env = {
        **os.environ,
        "ROSCA_GATEWAY_ROUTES": "onboarding=http://127.0.0.1:8101",
        "ROSCA_GATEWAY_CORS_ORIGINS": "localhost:3000",
    }
    finished = subprocess.run(
        [sys.executable, "-m", "rosca.gateway"],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )

    assert finished.returncode == 2
    assert finished.stderr.startswith("configuration error: ROSCA_GATEWAY_CORS_ORIGINS:")
