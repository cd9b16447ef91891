"""The one environment reader behind every settings object: defaults, parsing, named errors."""

from __future__ import annotations

import pytest

from recograph.core.errors import RecographError
from recograph.settings import Environment, Settings, SettingsError


def test_missing_and_blank_values_are_the_default() -> None:
    env = Environment({"RECOGRAPH_PORT": "  ", "RECOGRAPH_HOST": ""})
    assert env.integer("RECOGRAPH_PORT", 8000) == 8000
    assert env.text("RECOGRAPH_HOST", "127.0.0.1") == "127.0.0.1"
    assert env.flag("RECOGRAPH_DEBUG", True) is True
    assert env.number("RECOGRAPH_MARGIN_WEIGHT", 0.25) == 0.25
    assert env.items("RECOGRAPH_CORS_ORIGINS") == ()


def test_values_are_parsed() -> None:
    env = Environment(
        {
            "A": "42",
            "B": "off",
            "C": "YES",
            "D": "0.5",
            "E": " https://a.example , ,https://b.example ",
        }
    )
    assert env.integer("A", 0, minimum=1) == 42
    assert env.flag("B", True) is False
    assert env.flag("C", False) is True
    assert env.number("D", 0.0) == 0.5
    assert env.items("E") == ("https://a.example", "https://b.example")


@pytest.mark.parametrize(
    ("read", "message"),
    [
        (lambda e: e.integer("RECOGRAPH_PORT", 1), "RECOGRAPH_PORT must be an integer, got 'x'"),
        (lambda e: e.flag("RECOGRAPH_PORT", True), r"RECOGRAPH_PORT must be a boolean \(true/"),
        (lambda e: e.number("RECOGRAPH_PORT", 1.0), "RECOGRAPH_PORT must be a number, got 'x'"),
    ],
)
def test_errors_name_the_variable_and_value(read: object, message: str) -> None:
    env = Environment({"RECOGRAPH_PORT": "x"})
    with pytest.raises(SettingsError, match=message) as caught:
        read(env)  # type: ignore[operator]
    assert isinstance(caught.value, RecographError)
    assert isinstance(caught.value, ValueError)


def test_minimums_are_enforced() -> None:
    env = Environment({"N": "0", "F": "-0.1"})
    with pytest.raises(SettingsError, match="N must be at least 1, got '0'"):
        env.integer("N", 5, minimum=1)
    with pytest.raises(SettingsError, match=r"F must be at least 0\.0, got '-0\.1'"):
        env.number("F", 1.0)


def test_settings_read_through_the_environment() -> None:
    settings = Settings.from_env(
        {"RECOGRAPH_PRODUCTION": "true", "RECOGRAPH_PORT": "9001", "RECOGRAPH_GRAPHIQL": ""}
    )
    assert (settings.port, settings.production, settings.graphiql) == (9001, True, False)
