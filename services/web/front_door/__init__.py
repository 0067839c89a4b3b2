"""The front door: API keys and a per-client rate limit, before any route runs."""
