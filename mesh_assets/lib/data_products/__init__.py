"""ADX data products: their schemas, tenants and row filters.
"""
