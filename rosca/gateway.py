"""The gateway: one base URL that routes ``/<service>/...`` to that service, path unchanged.

Services serve under their own prefix, so the gateway never rewrites a path; it only picks the
upstream by the first path segment and streams the request and the response through. It is the
public door: browsers of the configured frontend origins may call through it (CORS), and each
service's ``/metrics`` stays behind it (Prometheus scrapes the services on their own ports).
Run it with ``python -m rosca.gateway`` (``ROSCA_GATEWAY_ROUTES``, ``_HOST``, ``_PORT``,
``_CORS_ORIGINS``).
"""

import re
import sys
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from urllib.parse import urlsplit

import aiohttp
import uvicorn
from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route
from yarl import URL  # aiohttp's own URL type: encoded=True sends a path byte for byte

from services.runtime.memory import freeze_long_lived_objects

HOP_BY_HOP_HEADERS = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
    }
)
_ROUTE_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
HTTP_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
# What a browser app may send cross-origin: the methods of the services' APIs, and the member's
# bearer token with a JSON body (Content-Type: application/json is not a "simple" request), and
# the Idempotency-Key of a request that must not act twice (a member paying their debt).
CORS_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]
CORS_HEADERS = ["Authorization", "Content-Type", "Idempotency-Key"]
# Routes of every service that are for the operators' network only, under its prefix.
PRIVATE_ROUTES = frozenset({"metrics"})
DOT_SEGMENTS = frozenset({".", ".."})
# Connections the gateway keeps open to the services, all kept alive: a member API under a few
# hundred users has that many requests in flight, and none should open and close a connection.
UPSTREAM_CONNECTIONS = 512
# Below uvicorn's 5 s keep-alive, so a service never closes a connection the gateway is reusing.
UPSTREAM_KEEPALIVE_SECONDS = 4.0
UPSTREAM_CONNECT_SECONDS = 5.0
# How long a service may take to answer, and between two chunks of its answer.
UPSTREAM_ANSWER_SECONDS = 60.0
# The client's own headers reach the service as sent: the HTTP client adds none of its defaults.
NOT_ADDED_TO_REQUESTS = ("Accept", "Accept-Encoding", "Content-Type", "User-Agent")


def parse_routes(text: str) -> dict[str, str]:
    """``onboarding=http://127.0.0.1:8101,payouts=http://127.0.0.1:8103`` -> {prefix: upstream}."""
    routes: dict[str, str] = {}
    for entry in filter(None, (part.strip() for part in text.split(","))):
        name, separator, upstream = entry.partition("=")
        name, upstream = name.strip(), upstream.strip().rstrip("/")
        if not separator or not _ROUTE_NAME.match(name):
            raise ValueError(f"{entry!r} is not name=http://host:port")
        if not upstream.startswith(("http://", "https://")):
            raise ValueError(f"the upstream of {name!r} must be an http(s) URL, not {upstream!r}")
        if name in routes:
            raise ValueError(f"{name!r} is routed twice")
        routes[name] = upstream
    if not routes:
        raise ValueError("no routes (expected name=http://host:port,...)")
    return routes


def format_routes(routes: Mapping[str, str]) -> str:
    return ",".join(f"{name}={upstream}" for name, upstream in routes.items())


def parse_origins(text: str) -> list[str]:
    """``http://localhost:3000, https://app.example`` -> the exact ``Origin`` values browsers send."""
    origins: list[str] = []
    for entry in filter(None, (part.strip() for part in text.split(","))):
        # Browsers send scheme and host in lower case and never a trailing slash.
        origin = entry.rstrip("/").lower()
        parts = urlsplit(origin)
        if parts.scheme not in ("http", "https") or not parts.hostname or parts.path or parts.query:
            raise ValueError(f"{entry!r} is not an origin (scheme://host[:port], e.g. http://localhost:3000)")
        if origin not in origins:
            origins.append(origin)
    return origins


class GatewaySettings(BaseSettings):
    """Configuration of the gateway process (``ROSCA_GATEWAY_*``)."""

    model_config = SettingsConfigDict(env_prefix="ROSCA_GATEWAY_", extra="ignore", frozen=True)

    routes: str = Field(description="name=http://host:port pairs, comma-separated")
    host: str = Field(default="127.0.0.1", description="Interface the gateway binds to.")
    port: int = Field(default=8100, ge=1, le=65535, description="Port of the gateway.")
    cors_origins: str = Field(
        default="",
        description="Origins of the browser apps that may call the API (http://localhost:3000,...); "
        "empty: none.",
    )

    @field_validator("routes")
    @classmethod
    def _must_parse(cls, value: str) -> str:
        parse_routes(value)
        return value

    @field_validator("cors_origins")
    @classmethod
    def _must_be_origins(cls, value: str) -> str:
        parse_origins(value)
        return value


def create_gateway_app(
    routes: Mapping[str, str],
    *,
    cors_origins: Sequence[str] = (),
    answer_timeout: float = UPSTREAM_ANSWER_SECONDS,
) -> Starlette:
    """The gateway over ``routes`` ({prefix: upstream base URL}).

    Browser apps served from ``cors_origins`` may call every route; any other origin gets no
    ``Access-Control-Allow-Origin``, so browsers keep its pages from reading the answers. A
    service silent for ``answer_timeout`` seconds is answered for with a 504.
    """
    table = dict(routes)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with upstream_session(answer_timeout) as session:
            app.state.upstream_session = session
            yield

    async def index(request: Request) -> Response:
        base = str(request.base_url).rstrip("/")
        return JSONResponse(
            {
                "services": [
                    {"name": name, "prefix": f"/{name}", "docs": f"{base}/{name}/docs"} for name in table
                ]
            }
        )

    async def healthz(_request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def proxy(request: Request) -> Response:
        name = request.path_params["service"]
        upstream = table.get(name)
        if upstream is None:
            return _error(
                404,
                "unknown_service",
                f"no service is routed at /{name}",
                services=[f"/{known}" for known in table],
            )
        refusal = _refuse_unrouted_path(request.scope["path"])
        if refusal is not None:
            return refusal
        return await _forward(request.app.state.upstream_session, request, name, upstream)

    return Starlette(
        routes=[
            Route("/", index, methods=["GET"]),
            Route("/healthz", healthz, methods=["GET"]),
            Route("/{service}", proxy, methods=HTTP_METHODS),
            Route("/{service}/{rest:path}", proxy, methods=HTTP_METHODS),
        ],
        lifespan=lifespan,
        middleware=[
            Middleware(
                CORSMiddleware,
                allow_origins=list(cors_origins),
                allow_methods=CORS_METHODS,
                allow_headers=CORS_HEADERS,
            )
        ],
    )


def _refuse_unrouted_path(path: str) -> Response | None:
    """An answer for a path the gateway must not pass on, else None.

    ``path`` is decoded, as the service will see it. Dot segments are refused: the HTTP client
    would resolve ``/onboarding/../metrics`` to the service's root ``/metrics``, and no link of
    ours has one. A service's own ``/<service>/metrics`` is for the operators' network only.
    """
    segments = path.split("/")[1:]
    if DOT_SEGMENTS.intersection(segments):
        return _error(400, "invalid_path", "a path with '.' or '..' segments is not routed")
    below_prefix = [segment for segment in segments[1:] if segment]
    if below_prefix and below_prefix[0] in PRIVATE_ROUTES:
        return _error(
            404,
            "not_found",
            f"/{segments[0]}/{below_prefix[0]} is not served through the gateway "
            "(Prometheus scrapes each service on its own port)",
        )
    return None


def upstream_session(answer_timeout: float = UPSTREAM_ANSWER_SECONDS) -> aiohttp.ClientSession:
    """The gateway's HTTP client to the services: aiohttp, which costs a fraction of httpx's CPU.

    It passes requests and answers through as they are: no redirect followed, no body decoded, no
    cookie kept, no proxy from the environment.
    """
    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(
            limit=UPSTREAM_CONNECTIONS, keepalive_timeout=UPSTREAM_KEEPALIVE_SECONDS, use_dns_cache=False
        ),
        timeout=aiohttp.ClientTimeout(
            total=None,
            connect=answer_timeout,
            sock_connect=UPSTREAM_CONNECT_SECONDS,
            sock_read=answer_timeout,
        ),
        auto_decompress=False,
        trust_env=False,
        cookie_jar=aiohttp.DummyCookieJar(),
        skip_auto_headers=NOT_ADDED_TO_REQUESTS,
    )


async def _forward(session: aiohttp.ClientSession, request: Request, name: str, upstream: str) -> Response:
    raw_path: bytes = request.scope.get("raw_path") or request.scope["path"].encode()
    query: bytes = request.scope.get("query_string", b"")
    # encoded=True: the path and query go out byte for byte as the client sent them (a%2Fb stays).
    target = URL(upstream + (raw_path + (b"?" + query if query else b"")).decode("latin-1"), encoded=True)
    has_body = "content-length" in request.headers or "transfer-encoding" in request.headers
    try:
        answer = await session.request(
            request.method,
            target,
            headers=_upstream_headers(request),
            data=request.stream() if has_body else None,
            allow_redirects=False,
        )
    except TimeoutError:
        return _error(504, "upstream_timeout", f"{name} did not answer in time", service=name)
    except aiohttp.ClientError as error:
        return _error(502, "upstream_unavailable", f"{name} is unavailable: {error}", service=name)
    response = StreamingResponse(_body_of(answer), status_code=answer.status)
    response.raw_headers = [
        (key, value)
        for key, value in answer.raw_headers
        if key.decode("latin-1").lower() not in HOP_BY_HOP_HEADERS
    ]
    return response


async def _body_of(answer: aiohttp.ClientResponse) -> AsyncIterator[bytes]:
    """The answer's body as it arrives; its connection goes back to the pool, or is closed, after."""
    try:
        async for chunk in answer.content.iter_any():
            yield chunk
    finally:
        answer.release()


def _upstream_headers(request: Request) -> list[tuple[str, str]]:
    headers = [
        (key.decode("latin-1"), value.decode("latin-1"))
        for key, value in request.headers.raw
        if not _is_replaced(key.decode("latin-1").lower())
    ]
    client_host = request.client.host if request.client else "unknown"
    forwarded_for = request.headers.get("x-forwarded-for")
    headers += [
        ("x-forwarded-for", f"{forwarded_for}, {client_host}" if forwarded_for else client_host),
        ("x-forwarded-proto", request.url.scheme),
        ("x-forwarded-host", request.headers.get("host", "")),
    ]
    return headers


def _is_replaced(header: str) -> bool:
    """Headers of the client's request the gateway does not pass on as they are."""
    return header in HOP_BY_HOP_HEADERS or header == "host" or header.startswith("x-forwarded-")


def _error(status: int, kind: str, message: str, **extra: object) -> JSONResponse:
    return JSONResponse({"error": {"type": kind, "message": message, **extra}}, status_code=status)


def serve(routes: Mapping[str, str], *, host: str, port: int, cors_origins: Sequence[str] = ()) -> None:
    app = create_gateway_app(routes, cors_origins=cors_origins)
    freeze_long_lived_objects()
    uvicorn.run(app, host=host, port=port, timeout_graceful_shutdown=5)


def main() -> None:
    try:
        settings = GatewaySettings()
    except ValidationError as invalid:
        problems = [
            f"ROSCA_GATEWAY_{str(problem['loc'][0]).upper() if problem['loc'] else ''}: {problem['msg']}"
            for problem in invalid.errors()
        ]
        print("configuration error: " + "; ".join(problems), file=sys.stderr)
        raise SystemExit(2) from None
    serve(
        parse_routes(settings.routes),
        host=settings.host,
        port=settings.port,
        cors_origins=parse_origins(settings.cors_origins),
    )


if __name__ == "__main__":
    main()
