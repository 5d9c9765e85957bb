"""python -m services.identity: run the identity worker."""

from libs.common.worker import run_faust_service
from services.identity.app import create_app
from services.identity.settings import IdentitySettings


def main() -> None:
    run_faust_service(
        "identity", IdentitySettings, create_app, lambda s: s.common, lambda s: s.http_port
    )


if __name__ == "__main__":
    main()
