#!/usr/bin/env bash
# Makes the project's .venv from uv.lock, with a pinned uv kept in .tools/.
# Idempotent: while uv.lock and pyproject.toml are unchanged since the last sync, it does nothing.
set -euo pipefail

UV_VERSION="0.13.8"
MIN_PYTHON="3.11"

cd "$(dirname "${BASH_SOURCE[0]}")/.."

fail() {
    echo "bootstrap: $*" >&2
    exit 1
}

python_is_recent_enough() {
    "$1" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' >/dev/null 2>&1
}

find_python() {
    local candidate
    for candidate in "${PYTHON:-}" python3.13 python3.12 python3.11 python3 python; do
        [ -n "$candidate" ] || continue
        if command -v "$candidate" >/dev/null 2>&1 && python_is_recent_enough "$candidate"; then
            command -v "$candidate"
            return 0
        fi
    done
    return 1
}

# What the last successful sync installed; a venv built from other inputs is synced again.
stamp=".venv/.bootstrap-stamp"
wanted="uv ${UV_VERSION} $(cat uv.lock pyproject.toml | sha256sum | cut -d' ' -f1)"
if [ -x .venv/bin/python ] && [ "$(cat "$stamp" 2>/dev/null || true)" = "$wanted" ]; then
    exit 0
fi

if ! python="$(find_python)"; then
    found="no python3 on PATH"
    if command -v python3 >/dev/null 2>&1; then
        found="$(python3 --version 2>&1 | head -n 1 || true)"
    fi
    fail "rosca needs Python ${MIN_PYTHON} or newer (found: ${found}). Install one, or point PYTHON at it: PYTHON=/path/to/python3.12 make install"
fi

installed_uv="$(.tools/bin/uv --version 2>/dev/null || true)"
if [ "${installed_uv%% (*}" != "uv ${UV_VERSION}" ]; then
    echo "bootstrap: installing uv ${UV_VERSION} into .tools/ (with ${python})"
    "$python" -m venv .tools || fail "could not create .tools/ with ${python} -m venv (on Debian/Ubuntu: apt-get install python3-venv)"
    .tools/bin/python -m pip install --quiet --disable-pip-version-check "uv==${UV_VERSION}" \
        || fail "could not pip install uv==${UV_VERSION} into .tools/"
fi

# --frozen: install exactly what uv.lock says, never re-resolve. No Python download: use the one found.
# --compile-bytecode: services start in about half the time where no .pyc can be written at run
# time (PYTHONDONTWRITEBYTECODE, read-only images).
UV_PYTHON_DOWNLOADS=never .tools/bin/uv sync --frozen --quiet --compile-bytecode --python "$python" \
    || fail "uv sync --frozen failed (see above); is uv.lock in step with pyproject.toml? (uv lock)"
echo "$wanted" > "$stamp"
