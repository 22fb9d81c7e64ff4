"""The ceiling for bench/load.py and bench/seed_load.py: a bare FastAPI endpoint returning
pre-encoded bytes, served by uvicorn exactly as `toolcatalog serve` serves the real app (same
loop, parser, options). `GET /api/v1/tools/{name}` answers BODY_FILE, or with `--bodies DIR`
the bytes of DIR/{name}.json where there is such a file (the same answers as a real run).

    python bench/bare_app.py BODY_FILE --port 18090 [--workers 2] [--bodies DIR]
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import uvicorn
from fastapi import FastAPI, Response


def create() -> FastAPI:
    """The app (a uvicorn factory: workers re-create it from BENCH_BODY_FILE)."""
    with open(os.environ["BENCH_BODY_FILE"], "rb") as f:
        body = f.read()
    etag = os.environ.get("BENCH_ETAG", '"1-bench"')
    folder = os.environ.get("BENCH_BODY_DIR")
    bodies = {} if not folder else {p.stem: p.read_bytes() for p in Path(folder).glob("*.json")}
    app = FastAPI()

    @app.get("/api/v1/tools/{name}")
    async def get_tool(name: str) -> Response:
        return Response(
            bodies.get(name, body),
            media_type="application/json",
            headers={"ETag": etag, "Cache-Control": "no-cache"},
        )

    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("body_file")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--bodies", help="a folder of NAME.json answers for /api/v1/tools/NAME")
    args = parser.parse_args()
    os.environ["BENCH_BODY_FILE"] = os.path.abspath(args.body_file)
    if args.bodies:
        os.environ["BENCH_BODY_DIR"] = os.path.abspath(args.bodies)
    if args.workers > 1:
        os.environ.setdefault("UV_TCP_SINGLE_ACCEPT", "1")  # as `toolcatalog serve` does
    # The same call and options as toolcatalog.cli.serve._run_uvicorn.
    uvicorn.run(
        "bare_app:create",
        factory=True,
        app_dir=os.path.dirname(os.path.abspath(__file__)),
        host=args.host,
        port=args.port,
        workers=args.workers,
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=10,
        server_header=False,
    )


if __name__ == "__main__":
    main()
