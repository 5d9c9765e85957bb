"""python -m services.intake: run the intake worker."""

from libs.common.worker import run_faust_service
from services.intake.app import create_app
from services.intake.settings import IntakeSettings


def main() -> None:
    run_faust_service(
        "intake", IntakeSettings, create_app, lambda s: s.common, lambda s: s.http_port
    )


if __name__ == "__main__":
    main()
