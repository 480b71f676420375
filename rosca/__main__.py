"""`python -m rosca`: the same as the `rosca` command."""

from rosca.cli import main

main()
