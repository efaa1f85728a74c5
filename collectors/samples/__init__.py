"""A local HTTP server that answers like every real source, for tests and key-less runs."""
