"""python -m services.context: run the context worker."""

from libs.common.worker import run_faust_service
from services.context.app import create_app
from services.context.settings import ContextSettings


def main() -> None:
    run_faust_service(
        "context", ContextSettings, create_app, lambda s: s.common, lambda s: s.http_port
    )


if __name__ == "__main__":
    main()
