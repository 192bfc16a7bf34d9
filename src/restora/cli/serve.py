"""``restora serve``: the local web page and its JSON API (FastAPI app run by uvicorn)."""
from __future__ import annotations

from typing import Annotated

import typer

from restora.cli.common import app, note

LOOPBACK = ("127.0.0.1", "localhost", "::1")


@app.command()
def serve(host: Annotated[str, typer.Option(help="Address to listen on; anything but loopback lets other "
                                            "machines use the server.")] = "127.0.0.1",
          port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
          workers: Annotated[int, typer.Option(help="Jobs run at the same time.", min=1)] = 1,
          queue: Annotated[int, typer.Option(help="Jobs that may wait; more get 'busy' (HTTP 429).", min=1)] = 8,
          max_upload_mb: Annotated[float, typer.Option(help="Largest upload in MB.", min=0.001)] = 50,
          max_pixels: Annotated[int, typer.Option(help="Largest image in pixels.", min=1)] = 40_000_000) -> None:
    """Start the web page: upload an image, paint a mask, run a method, compare and download."""
    import uvicorn

    from restora.web import Settings, create_app

    settings = Settings(max_upload_bytes=int(max_upload_mb * 1_000_000), max_pixels=max_pixels, workers=workers,
                        queue_size=queue)
    if host not in LOOPBACK:
        note(f"warning: listening on {host}: other machines can reach this server; it has no login")
    shown = f"[{host}]" if ":" in host else host
    note(f"restora: open http://{shown}:{port}/ in a browser (Ctrl+C stops the server)")
    uvicorn.run(create_app(settings), host=host, port=port, log_level="warning")
