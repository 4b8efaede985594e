"""Non-secret settings per environment (TOML), read by gateway.settings."""
