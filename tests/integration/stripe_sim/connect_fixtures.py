"""Connected accounts for tests: created and onboarded only through the SDK and the link's URL."""

import uuid
from functools import cache

import httpx
import stripe

RETURN_URL = "http://127.0.0.1/onboarding/done"
REFRESH_URL = "http://127.0.0.1/onboarding/again"


def express_account(client: stripe.StripeClient, *, payout_schedule: str = "manual") -> stripe.Account:
    """A new Express account wanting `transfers`, onboarding not yet done."""
    return client.v1.accounts.create(
        {
            "country": "AU",
            "email": f"member-{uuid.uuid4().hex[:10]}@example.com",
            "controller": {
                "stripe_dashboard": {"type": "express"},
                "fees": {"payer": "application"},
                "losses": {"payments": "application"},
                "requirement_collection": "stripe",
            },
            "capabilities": {"transfers": {"requested": True}},
            "settings": {"payouts": {"schedule": {"interval": payout_schedule}}},
        }
    )


def onboarding_link(client: stripe.StripeClient, account_id: str) -> stripe.AccountLink:
    return client.v1.account_links.create(
        {
            "account": account_id,
            "type": "account_onboarding",
            "refresh_url": REFRESH_URL,
            "return_url": RETURN_URL,
        }
    )


def visit(url: str, account_number: str | None = None) -> str:
    """Follow the link as the member's browser would; returns where it redirects."""
    params = {"account_number": account_number} if account_number else {}
    response = _browser().get(url, params=params, follow_redirects=False)
    assert response.status_code == 302, response.text
    return response.headers["location"]


def onboarded_account(
    client: stripe.StripeClient, account_number: str = "000123456", *, payout_schedule: str = "manual"
) -> stripe.Account:
    account = express_account(client, payout_schedule=payout_schedule)
    assert visit(onboarding_link(client, account.id).url, account_number) == RETURN_URL
    return client.v1.accounts.retrieve(account.id)


@cache
def _browser() -> httpx.Client:
    return httpx.Client()
