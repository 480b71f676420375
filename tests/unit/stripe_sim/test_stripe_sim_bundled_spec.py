"""The simulator's spec comes from the repository itself, as SOURCE.md describes it."""

import gzip
import hashlib
import re
from importlib import resources

from simulators.stripe_sim.wire.spec import BUNDLED_SPEC, StripeSpec


def test_the_bundled_spec_is_the_one_its_source_note_names() -> None:
    note = resources.files("simulators.stripe_sim.spec").joinpath("SOURCE.md").read_text()
    raw = gzip.decompress(BUNDLED_SPEC.read_bytes())

    assert f"`{hashlib.sha256(raw).hexdigest()}`" in note
    version = re.search(r"API version \(`info.version`\): `([^`]+)`", note)
    assert version is not None
    assert StripeSpec.load().version == version.group(1)


def test_the_bundled_spec_knows_the_endpoints_the_simulator_serves() -> None:
    spec = StripeSpec.load()

    assert spec.has_operation("post", "/v1/payment_intents/{intent}/confirm")
    assert spec.has_operation("get", "/v1/account")
