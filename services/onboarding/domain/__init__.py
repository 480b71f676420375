"""The onboarding rules, pure: members and their readiness, groups, their terms and payout order."""
