"""The Redis cache sink."""
