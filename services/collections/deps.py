"""What the message handlers depend on, built once in ``create_app``."""

from dataclasses import dataclass

from services.collections.settings import CollectionsSettings
from services.collections.stripe import StripeCollections
from services.collections.stripe_books import StripeBooksReader


@dataclass(frozen=True)
class Collections:
    settings: CollectionsSettings
    stripe: StripeCollections
    stripe_books: StripeBooksReader
