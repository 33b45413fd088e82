"""Resources: one module per external system, each picking its backend from configuration.

``resources.environment.resources_for`` is the one place that chooses ``local``, ``aws`` or ``cluster``.
"""
