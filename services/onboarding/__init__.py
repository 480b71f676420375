"""The onboarding service: members, BECS mandates, payout accounts, groups and payout order."""
