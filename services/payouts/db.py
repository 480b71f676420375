"""Tables the payouts service owns, in its own database."""

from sqlalchemy import MetaData

metadata = MetaData()
