"""Distribution over Kafka, pure side: topics, the event envelope, the ledger, the outbox.
"""
