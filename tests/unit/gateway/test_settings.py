"""The gateway's limits must fit together."""

import pytest
from pydantic import ValidationError

from services.gateway.settings import GatewaySettings


def test_the_defaults_fit_together() -> None:
    settings = GatewaySettings()
    assert settings.max_streams_per_key < settings.max_streams < settings.max_connections


@pytest.mark.parametrize("streams", [200, 300])
def test_fewer_connections_than_streams_are_refused(streams: int) -> None:
    with pytest.raises(ValidationError, match="every stream holds a connection"):
        GatewaySettings.model_validate({"max_streams": streams, "max_connections": 200})
