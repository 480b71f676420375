"""``rosca chaos``: groups through their rotations while the stack's processes die and Stripe misbehaves."""
