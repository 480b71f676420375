"""The pure core of collections: the rotation plan, the cycle saga and the group ledger (no I/O)."""
