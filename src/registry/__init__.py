"""Registry: registered model versions, aliases and their history, and model artifacts on local disk.

Entry point: :mod:`registry.models`.
"""
