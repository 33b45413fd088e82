"""The PII scan: what a data product may not carry, and the scanner that finds it.
"""
