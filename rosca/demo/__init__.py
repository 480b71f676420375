"""``rosca demo``: one circle's whole rotation on the local stack, driven as a frontend would drive it.

The members sign up, authorise their bank accounts and open their payout accounts through the
gateway API; the clock moves on day by day; the trouble a real circle meets is made to happen on
the Stripe simulator (a closed account, insufficient funds, a restricted payout account, a
dispute), and the members and the admin answer it through the API. At the end: a statement of
where every cent went, checked against Stripe's own books.
"""
