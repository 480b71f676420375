"""``rosca streams provision`` (and ``rosca up``): declare every stream and the clock bucket on a NATS."""

from collections.abc import Sequence

from nats.js.errors import Error as JetStreamError

from rosca.errors import CliError, one_line
from rosca.jetstream import jetstream
from services.runtime.naming import Namespace
from services.runtime.streams import ProvisionResult, StreamSettings, provision_streams


async def provision(nats_url: str, namespace: str, replicas: int | None = None) -> list[ProvisionResult]:
    """``replicas``: copies of each stream; None takes ``ROSCA_STREAMS_REPLICAS`` (default 1)."""
    settings = StreamSettings() if replicas is None else StreamSettings(replicas=replicas)
    async with jetstream(nats_url) as js:
        try:
            return await provision_streams(js, Namespace(namespace), settings)
        except (JetStreamError, TimeoutError) as error:
            raise CliError(f"could not provision the streams on {nats_url}: {one_line(error)}") from None


def describe_provisioning(results: Sequence[ProvisionResult]) -> str:
    """``created: STRIPE, ONBOARDING; unchanged: KV_rosca_clock``: one line for the whole run."""
    by_outcome: dict[str, list[str]] = {}
    for result in results:
        by_outcome.setdefault(result.outcome, []).append(result.name)
    return "; ".join(f"{outcome}: {', '.join(names)}" for outcome, names in by_outcome.items())
