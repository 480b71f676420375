"""Maps logical subjects, streams and durables to their names on the wire, under a namespace."""

from dataclasses import dataclass


@dataclass(frozen=True)
class Namespace:
    """An optional prefix that lets several environments or tests share one NATS server."""

    prefix: str = ""

    def subject(self, subject: str) -> str:
        return f"{self.prefix}.{subject}" if self.prefix else subject

    def logical_subject(self, wire_subject: str) -> str:
        if self.prefix and wire_subject.startswith(f"{self.prefix}."):
            return wire_subject[len(self.prefix) + 1 :]
        return wire_subject

    def stream(self, name: str) -> str:
        return f"{self.prefix.upper()}_{name}" if self.prefix else name

    def durable(self, name: str) -> str:
        return f"{self.prefix}_{name}" if self.prefix else name

    def bucket(self, name: str) -> str:
        return f"{self.prefix}_{name}" if self.prefix else name
