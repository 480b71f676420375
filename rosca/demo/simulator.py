"""The Stripe simulator's test helpers: what a bank, a member's bank or Stripe decides, made to happen."""

from typing import Any

import httpx
import stripe

from rosca.demo.gateway import MemberSession
from rosca.errors import CliError


class StripeSimulator:
    def __init__(self, base_url: str) -> None:
        self._client = httpx.Client(base_url=base_url, timeout=30)

    def restrict_account(self, account_id: str) -> None:
        """Stripe needs more details from the account holder: payouts and transfers stop."""
        self._post(f"/_sim/accounts/{account_id}/restrict")

    def dispute_charge(self, charge_id: str) -> dict[str, Any]:
        """The member tells their bank they did not authorise the debit (a BECS dispute is final)."""
        dispute: dict[str, Any] = self._post(f"/_sim/charges/{charge_id}/dispute")
        return dispute

    def complete_onboarding(self, url: str) -> None:
        """The member fills in Stripe's hosted payout-account form behind an account link."""
        response = self._client.get(url, follow_redirects=False)
        if response.status_code != 302:
            raise CliError(
                f"the payout-account form at {url} answered {response.status_code}: {response.text}"
            )

    def run_due(self) -> int:
        """Everything the simulated clock has passed runs now (settlements, webhook deliveries)."""
        ran: int = self._post("/_sim/run_due")["ran"]
        return ran

    def close(self) -> None:
        self._client.close()

    def _post(self, path: str) -> Any:
        response = self._client.post(path)
        if response.status_code != 200:
            raise CliError(f"the Stripe simulator refused {path}: {response.status_code} {response.text}")
        return response.json()


class StripeBooks:
    """Stripe's own records, read with the official SDK (the simulator takes any test-mode key)."""

    def __init__(self, base_url: str) -> None:
        self.client = stripe.StripeClient("sk_test_rosca_demo", base_addresses={"api": base_url})

    def succeeded_charge_of(self, member: MemberSession, *, cycle_number: int) -> str:
        """The charge of the member's debit that succeeded for cycle ``cycle_number`` (its latest round)."""
        customer = member.get("/onboarding/members/me")["stripe_customer_id"]
        for intent in self.client.v1.payment_intents.list(
            {"customer": customer, "limit": 100}
        ).auto_paging_iter():
            metadata = intent.metadata
            # Not .get(): the SDK's types read it as a metadata key, not the method.
            number = metadata["cycle_number"] if metadata and "cycle_number" in metadata else None
            if intent.status == "succeeded" and number == f"{cycle_number}":
                return str(intent.latest_charge)
        raise CliError(f"no succeeded debit of {member.member_id} for cycle {cycle_number} on Stripe")
