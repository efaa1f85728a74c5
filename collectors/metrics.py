"""Prometheus metrics of collection (seed §6.4 names)."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

data_collection_total = Counter("data_collection_total", "Total data collection attempts", ["source", "status"])
data_collection_latency = Histogram("data_collection_latency_seconds", "Data collection latency", ["source"],
                                    buckets=[1, 5, 10, 30, 60, 120])
collected_records_total = Counter("collected_records_total", "Records seen by collectors, by outcome",
                                  ["source", "outcome"])
pipeline_processing_total = Counter("pipeline_processing_total", "Total pipeline processing", ["path", "status"])
pipeline_processing_latency = Histogram("pipeline_processing_latency_seconds", "Pipeline processing latency",
                                        ["path"], buckets=[0.1, 0.5, 1.0, 2.0, 5.0, 10.0])
