"""Showing over HTTP (FastAPI): the intake today; the dashboard and the API later."""
