"""The kernel every component shares: settings, the feature contract, the reference profile,
the prediction store's schema, batch telemetry, errors and the tracking server's health check.

It imports no component (import-linter's layers contract, see pyproject.toml).
"""
