"""Pure tests: no database, no network."""
