"""Avro in the Confluent wire format, with schemas from a schema registry (docs/avro.md)."""
