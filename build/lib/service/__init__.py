"""Tellwell's HTTP face and records: the FastAPI app, settings, database, API keys and audit."""
