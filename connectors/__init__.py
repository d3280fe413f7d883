"""Sources and sinks: one module per external system (files, Avro files; Kafka later)."""
