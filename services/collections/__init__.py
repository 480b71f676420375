"""The collections service: cycles, contributions, the cycle saga and the group ledger."""
