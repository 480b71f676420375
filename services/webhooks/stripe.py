"""The webhooks service's calls to Stripe: listing events for backfill, through the official SDK.

Through the runtime's client, so a backfill's requests take their turns in the request budget the
services of the namespace share for the one Stripe account: a backfill of thirty days, page after
page of every connected account, slows down with the members' calls instead of taking Stripe's
whole rate from them.
"""

import json
from collections.abc import AsyncIterator, Callable

import stripe
from nats.js import JetStreamContext
from stripe.params import EventListParams

from services.runtime.naming import Namespace
from services.runtime.stripe_client import ClosableStripeClient, stripe_client, stripe_request_budget
from services.webhooks.settings import WebhooksSettings


class StripeEventSource:
    def __init__(self, client: ClosableStripeClient) -> None:
        self._client = client

    async def close(self) -> None:
        """Lets go of the client's connections."""
        await self._client.close()

    @classmethod
    def within_budget(
        cls, settings: WebhooksSettings, jetstream: Callable[[], JetStreamContext]
    ) -> "StripeEventSource":
        """Listing through the Stripe budget of ``settings.namespace``, the one every service of
        that namespace shares (``jetstream``: the NATS it lives in, reached at the first request).
        Raises ``StripeNotConfiguredError`` without an API key."""
        budget = stripe_request_budget(settings, Namespace(settings.namespace), jetstream)
        return cls(stripe_client(settings, budget))

    async def events(self, *, created_since: int | None, account: str | None) -> AsyncIterator[bytes]:
        """Every event Stripe still holds (30 days), newest first, as JSON bodies.

        With ``account``, those of that connected account: Stripe lists them only when asked with
        its ``Stripe-Account``. Such an event is given its ``account``, as a Connect delivery has it.
        """
        params: EventListParams = {"limit": 100}
        if created_since is not None:
            params["created"] = {"gte": created_since}
        options: stripe.RequestOptions = {"stripe_account": account} if account else {}
        page = await self._client.v1.events.list_async(params, options)
        async for event in page.auto_paging_iter():
            body = event.to_dict()
            if account is not None:
                body.setdefault("account", account)
            yield json.dumps(body, separators=(",", ":")).encode()
