"""The README's configuration reference and commands match the code."""

import re
from pathlib import Path

from services.runtime.settings import ServiceSettings
from services.runtime.streams import StreamSettings

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()


def test_every_service_setting_is_documented() -> None:
    for field in ServiceSettings.model_fields:
        assert f"`ROSCA_<SERVICE>_{field.upper()}`" in README, field


def test_every_stream_setting_is_documented() -> None:
    for field in StreamSettings.model_fields:
        assert f"`ROSCA_STREAMS_{field.upper()}`" in README, field


def test_no_undocumented_variable_is_mentioned() -> None:
    known = {f"ROSCA_<SERVICE>_{field.upper()}" for field in ServiceSettings.model_fields}
    known |= {f"ROSCA_STREAMS_{field.upper()}" for field in StreamSettings.model_fields}
    mentioned = set(re.findall(r"`(ROSCA_(?:<SERVICE>|STREAMS)_[A-Z_]+)`", README))
    assert mentioned <= known, mentioned - known


def test_the_two_commands_are_make_targets() -> None:
    makefile = (ROOT / "Makefile").read_text()
    for target in ("up", "test"):
        assert f"make {target}" in README
        assert re.search(rf"^{target}:", makefile, re.MULTILINE), target
