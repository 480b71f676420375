"""Refresh the simulator's copy of Stripe's OpenAPI spec (simulators/stripe_sim/spec/).

    .venv/bin/python scripts/refresh_stripe_spec.py                 # Stripe's latest published spec
    .venv/bin/python scripts/refresh_stripe_spec.py --ref v2100      # a tag or commit of stripe/openapi
    .venv/bin/python scripts/refresh_stripe_spec.py --file spec.json # a copy already on disk

Writes `openapi.spec3.json.gz` (gzip without name or time stamp, so the same spec gives the same
bytes) and `SOURCE.md` (where it came from, its API version, its SHA-256). The only script that
reaches the network, and only when run by hand; the simulator and the tests read the copy.
"""

import argparse
import gzip
import hashlib
import json
import sys
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

UPSTREAM = "https://raw.githubusercontent.com/stripe/openapi/{ref}/latest/openapi.spec3.json"
TARGET = Path(__file__).resolve().parent.parent / "simulators" / "stripe_sim" / "spec"


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--ref", default="master", help="branch, tag or commit of github.com/stripe/openapi")
    source.add_argument("--file", type=Path, help="take the spec from this file instead of downloading it")
    parser.add_argument(
        "--origin", help="what SOURCE.md names as the origin of --file (default: the upstream path)"
    )
    args = parser.parse_args()
    if args.file is not None:
        raw = args.file.read_bytes()
        origin = args.origin or "a copy of `latest/openapi.spec3.json` of github.com/stripe/openapi"
    else:
        url = UPSTREAM.format(ref=args.ref)
        with urllib.request.urlopen(url, timeout=60) as response:  # noqa: S310 - a fixed https URL
            raw = response.read()
        origin = url
    document = json.loads(raw)
    version = document["info"]["version"]
    (TARGET / "openapi.spec3.json.gz").write_bytes(gzip.compress(raw, compresslevel=9, mtime=0))
    (TARGET / "SOURCE.md").write_text(_note(origin, version, hashlib.sha256(raw).hexdigest()))
    print(f"Stripe API {version}, {len(document['paths'])} paths -> {TARGET}")
    return 0


def _note(origin: str, version: str, digest: str) -> str:
    return (
        "# Stripe's OpenAPI spec, as the simulator uses it\n\n"
        "`openapi.spec3.json.gz` is Stripe's official OpenAPI spec, gzip-compressed, unchanged.\n"
        "Written by `scripts/refresh_stripe_spec.py`; do not edit by hand.\n\n"
        f"- origin: {origin}\n"
        f"- API version (`info.version`): `{version}`\n"
        f"- SHA-256 of the uncompressed JSON: `{digest}`\n"
        f"- refreshed: {datetime.now(UTC).date().isoformat()}\n"
    )


if __name__ == "__main__":
    sys.exit(main())
