"""Serving settings from RECOGRAPH_* variables."""

from __future__ import annotations

import pytest

from recograph.engine import BusinessRules
from recograph.online.config import ServingConfig
from recograph.resolvers.context import is_admin
from recograph.settings import SettingsError


def test_defaults_match_the_engine_defaults() -> None:
    config = ServingConfig.from_env({})
    assert config == ServingConfig()
    assert config.business_rules == BusinessRules()


def test_business_rules_from_the_environment() -> None:
    config = ServingConfig.from_env(
        {
            "RECOGRAPH_PROMOTED_SLOTS": "5, 1,5",
            "RECOGRAPH_MARGIN_WEIGHT": "0.25",
            "RECOGRAPH_CATEGORY_CAP": "0",
            "RECOGRAPH_EVENT_QUEUE_SIZE": "50",
        }
    )
    assert config.business_rules == BusinessRules(
        promoted_positions=(1, 5), margin_weight=0.25, max_per_category=None
    )
    assert config.event_queue_size == 50
    assert ServingConfig.from_env({"RECOGRAPH_PROMOTED_SLOTS": ""}).promoted_slots == ()


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"RECOGRAPH_PROMOTED_SLOTS": "first"}, "RECOGRAPH_PROMOTED_SLOTS must be"),
        ({"RECOGRAPH_PROMOTED_SLOTS": "0"}, "RECOGRAPH_PROMOTED_SLOTS ranks start at 1"),
        ({"RECOGRAPH_MARGIN_WEIGHT": "-1"}, "RECOGRAPH_MARGIN_WEIGHT must be at least 0"),
        ({"RECOGRAPH_CATEGORY_CAP": "many"}, "RECOGRAPH_CATEGORY_CAP must be an integer"),
        ({"RECOGRAPH_EVENT_QUEUE_SIZE": "0"}, "RECOGRAPH_EVENT_QUEUE_SIZE must be at least 1"),
    ],
)
def test_bad_values_name_the_variable(env: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        ServingConfig.from_env(env)


@pytest.mark.parametrize(
    ("header", "token", "expected"),
    [
        ("Bearer abc", "abc", True),
        ("bearer abc", "abc", True),
        ("Bearer abd", "abc", False),
        ("Basic abc", "abc", False),
        (None, "abc", False),
        ("Bearer ", "", False),
        ("Bearer abc", "", False),
    ],
)
def test_admin_token(header: str | None, token: str, expected: bool) -> None:
    assert is_admin(header, token) is expected
