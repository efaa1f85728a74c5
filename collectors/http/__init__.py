"""Polite HTTP for the API sources: timeouts, retries, a circuit breaker, a rate limit, a size cap."""
