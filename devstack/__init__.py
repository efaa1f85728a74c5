"""The native local stack: real servers started as processes from packages, no Docker."""
