"""Development tools beside the code location, never imported by it: the local Kafka launcher, the
Salesforce-compatible server, the synthetic firm, the crash harness and the `mesh` CLI.
"""
