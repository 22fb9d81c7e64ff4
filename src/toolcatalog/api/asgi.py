"""ASGI entry point for uvicorn workers: settings come from the environment."""

from __future__ import annotations

from fastapi import FastAPI

from toolcatalog.api.app import create_app
from toolcatalog.config import Settings
from toolcatalog.logs import configure_logging
from toolcatalog.runtime import die_with_parent


def create_app_from_env() -> FastAPI:
    die_with_parent()
    settings = Settings()
    # Lines written in batches: a write per request would cost more than a cached read.
    configure_logging(settings.log_level, buffer_s=0.2)
    return create_app(settings=settings)
