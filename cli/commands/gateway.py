"""``sketchref gateway [--host H] [--port P]``: the HTTP gateway under uvicorn (factory mode)."""

from __future__ import annotations


def add_arguments(parser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="bind address (0.0.0.0 in a container)")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")
    parser.add_argument("--log-level", default="info")


def run(args) -> int:
    import uvicorn

    from services.gateway.server import uvicorn_options
    from services.gateway.settings import get_gateway_settings

    uvicorn.run("services.gateway.main:create_app", factory=True, host=args.host, port=args.port,
                workers=args.workers, log_level=args.log_level,
                **uvicorn_options(get_gateway_settings().forwarded_allow_ips))
    return 0
