"""Serving engines: each runs the same FastAPI app (``warehouse.api:create_app``)."""
