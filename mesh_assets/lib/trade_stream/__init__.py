"""What the trade worker and the stream's Dagster side share: the hot table and its progress.
"""
