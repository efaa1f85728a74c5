"""The fault-injection suite (``make faults``): its modules import each other as ``tests.faults.*``."""
