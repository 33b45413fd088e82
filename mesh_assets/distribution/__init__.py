"""Distribution over Kafka: gold NAV and performance figures published as events after the end-of-day batch.

Pure modules (no Dagster import): ``topics`` (what each topic carries), ``events`` (the event envelope,
deterministic ids, the builders), ``ledger`` (what a topic already holds for a day, verification),
``outbox`` (the embedded JSON-lines stand-in for a broker). ``assets.py`` is the Dagster side; the
JSON Schema of each topic's value is under ``schemas/``. docs/distribution.md describes the contract.
"""
