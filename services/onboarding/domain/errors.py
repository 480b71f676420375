"""The base of every refusal of the onboarding rules: each refusal is a type with a stable code."""

from typing import ClassVar


class DomainError(Exception):
    """A request the rules refuse; ``kind`` is the stable code clients see."""

    kind: ClassVar[str] = "refused"
