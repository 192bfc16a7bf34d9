"""The local web page and its JSON API (``restora serve``); needs the ``web`` extra (FastAPI, uvicorn)."""
from restora.web.app import Settings, create_app

__all__ = ["Settings", "create_app"]
