"""The change stream as the sinks and event readers see it: Debezium's envelope as a typed
``ChangeEvent``, and the decoders from the bytes on a topic (JSON, or Avro with its schema registry)."""
