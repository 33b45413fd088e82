"""Local development services: a real Apache Kafka broker run from Maven Central jars."""
