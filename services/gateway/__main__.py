"""python -m services.gateway: serve the HTTP gateway.

Fails fast, with one line naming the problem, on a bad setting, a taken port
or an unreachable broker (the checks of `libs.common.worker`).
"""

from __future__ import annotations

import uvicorn

from libs.common.worker import load_or_exit, prepare
from services.gateway.app import create_app
from services.gateway.server import uvicorn_config
from services.gateway.settings import GatewaySettings

SERVICE = "gateway"


def main() -> None:
    settings = load_or_exit(SERVICE, GatewaySettings)
    common = settings.common
    loop = prepare(SERVICE, common, settings.http_port)
    config = uvicorn_config(create_app(settings), settings, host=common.http_host)
    loop.run_until_complete(uvicorn.Server(config).serve())


if __name__ == "__main__":
    main()
