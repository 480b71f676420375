"""The platform's fee on a cycle's pot, split across the pot's charges so the sums are exact."""

from collections.abc import Sequence
from typing import Final

BASIS_POINTS: Final = 10_000


def platform_fee_shares(amounts: Sequence[int], fee_bps: int) -> tuple[int, ...]:
    """Each charge's share of the platform fee, in the order given.

    The cycle's fee is ``fee_bps`` of the whole pot rounded down, so the platform never takes more
    than its rate. Each charge bears its exact share rounded down, and the cents that rounding
    leaves over go one each to the charges with the largest remainders (earlier charges first on a
    tie): the shares add up to the cycle's fee exactly, and no share is over its charge's exact
    fee by a cent or more.
    """
    if not 0 <= fee_bps <= BASIS_POINTS or any(amount < 0 for amount in amounts):
        raise ValueError(f"a fee is 0 to {BASIS_POINTS} basis points of amounts that are not negative")
    cycle_fee = sum(amounts) * fee_bps // BASIS_POINTS
    exact = [amount * fee_bps for amount in amounts]
    shares = [numerator // BASIS_POINTS for numerator in exact]
    leftover = cycle_fee - sum(shares)
    by_remainder = sorted(range(len(amounts)), key=lambda index: (-(exact[index] % BASIS_POINTS), index))
    for index in by_remainder[:leftover]:
        shares[index] += 1
    return tuple(shares)
