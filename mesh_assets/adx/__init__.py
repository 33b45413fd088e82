"""AWS Data Exchange publication and data grants: product files, and the local and aws exchanges.

No Dagster import here: the assets (``adx/<product>/revision``) and the ``AdxResource`` call into these modules.
"""
