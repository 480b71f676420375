"""Tables the payouts service owns, in its own database (defined in ``store/tables.py``)."""

from services.payouts.store.tables import metadata

__all__ = ["metadata"]
