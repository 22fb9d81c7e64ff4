"""ASGI entry point for uvicorn workers: settings come from the environment."""

from __future__ import annotations

from fastapi import FastAPI

from toolcatalog.api.app import create_app
from toolcatalog.config import Settings
from toolcatalog.logs import configure_logging


def create_app_from_env() -> FastAPI:
    settings = Settings()
    configure_logging(settings.log_level)
    return create_app(settings=settings)
