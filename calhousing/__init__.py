"""The front door of calhousing-mlops: the CLI, the local walkthrough and local services.

It composes `training`, `inference` and `monitoring`, which share only `core` and never import
each other or this package (import-linter's layers contract, see pyproject.toml).
"""
