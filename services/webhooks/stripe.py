"""The webhooks service's calls to Stripe: listing events for backfill, through the official SDK."""

import json
from collections.abc import AsyncIterator

import stripe
from pydantic import SecretStr
from stripe.params import EventListParams


class StripeEventSource:
    def __init__(self, api_key: SecretStr, base_url: str) -> None:
        self._client = stripe.StripeClient(
            api_key.get_secret_value(),
            base_addresses={"api": base_url, "connect": base_url},
            max_network_retries=3,
        )

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
