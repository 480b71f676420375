"""The JetStream streams: one per owner, holding the subjects it owns.

Storage, replicas, limits and the duplicate window come from configuration when the streams are
provisioned (``rosca streams provision``); consumers never create or change a stream.
"""

from dataclasses import dataclass

from contracts import subjects


@dataclass(frozen=True)
class StreamDefinition:
    name: str
    subjects: tuple[str, ...]
    owner: str
    description: str


STRIPE = StreamDefinition(
    name="STRIPE",
    subjects=(subjects.STRIPE_ALL,),
    owner="webhooks",
    description="Verified Stripe events, one message per event id.",
)
ONBOARDING = StreamDefinition(
    name="ONBOARDING",
    subjects=(subjects.ONBOARDING_ALL,),
    owner="onboarding",
    description="Members, mandates, payout accounts and groups.",
)
COLLECTIONS = StreamDefinition(
    name="COLLECTIONS",
    subjects=(subjects.COLLECTIONS_ALL,),
    owner="collections",
    description="Cycles, contributions, refunds, disputes and the ledger.",
)
PAYOUTS = StreamDefinition(
    name="PAYOUTS",
    subjects=(subjects.PAYOUTS_ALL,),
    owner="payouts",
    description="Transfers of each cycle's pot to its recipient.",
)
SCHEDULER = StreamDefinition(
    name="SCHEDULER",
    subjects=(subjects.SCHEDULER_ALL,),
    owner="scheduler",
    description="Timer commands addressed to the scheduler.",
)
NOTIFY = StreamDefinition(
    name="NOTIFY",
    subjects=(subjects.NOTIFY_ALL,),
    owner="any service",
    description="Notifications for members, for whatever delivers them.",
)
DEADLETTER = StreamDefinition(
    name="DEADLETTER",
    subjects=(subjects.DEADLETTER_ALL,),
    owner="any consumer",
    description="Messages a consumer gave up on, with their last error.",
)

ALL_STREAMS: tuple[StreamDefinition, ...] = (
    STRIPE,
    ONBOARDING,
    COLLECTIONS,
    PAYOUTS,
    SCHEDULER,
    NOTIFY,
    DEADLETTER,
)
