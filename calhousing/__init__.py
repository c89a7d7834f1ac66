"""Shared kernel of calhousing-mlops: settings, the feature contract and the CLI front door.

`training`, `inference` and `monitoring` depend on this package and never on each other
(checked by import-linter, see pyproject.toml).
"""
