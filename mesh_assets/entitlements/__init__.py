"""Salesforce contracts turned into AWS Data Exchange data grants."""
