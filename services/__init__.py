"""Elastic Vision: the web tier, the workers and what they share."""
