"""What the simulator remembers, in memory and in one SQLite file that survives restarts."""
