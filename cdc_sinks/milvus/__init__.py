"""The Milvus vector sink: sentence embeddings of active policies, never computed twice (docs/milvus.md)."""
