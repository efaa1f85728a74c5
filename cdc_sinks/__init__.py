"""CDC sinks: independent Kafka consumers, one per target, behind one small ``Sink`` protocol."""
