"""End-to-end tests: the clearway command run as a user runs it."""
