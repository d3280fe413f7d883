"""Kafka source and sink, written with kafka-python (one module per concern)."""
