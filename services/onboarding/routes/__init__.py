"""The HTTP routes of onboarding and the request and answer models they take and give."""
