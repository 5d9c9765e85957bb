"""python -m services.decision: run the decision worker.

The catalogue and policies are validated before anything starts: an invalid
file stops the service with the file, the path inside it and the reason.
"""

import sys

from libs.common.worker import CONFIG_ERROR_EXIT, run_faust_service
from services.decision.app import create_app
from services.decision.domain.catalogue import ConfigError, load_config
from services.decision.settings import DecisionSettings


def _create(settings: DecisionSettings):  # type: ignore[no-untyped-def]
    try:
        config = load_config(settings.catalogue_path, settings.policies_path)
    except (ConfigError, OSError) as error:
        print(f"concierge-decision: invalid configuration: {error}", file=sys.stderr)
        sys.exit(CONFIG_ERROR_EXIT)
    return create_app(settings, config)


def main() -> None:
    run_faust_service(
        "decision",
        DecisionSettings,
        _create,
        lambda s: s.common,
        lambda s: s.http_port,
        serves_queries=True,
    )


if __name__ == "__main__":
    main()
