"""The payouts service: transfers of each funded cycle's pot to its recipient's connected account."""
