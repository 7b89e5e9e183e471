"""A module imports `front_door_both_ways` to run each of its tests against apps with
and without the front door (`RUN_FRONT_DOOR`): the two ways must answer alike."""

from __future__ import annotations

import pytest


@pytest.fixture(
    scope="module", name="front_door", params=[True, False], ids=["front-door", "flask-only"]
)
def front_door_both_ways(request) -> bool:
    return request.param
