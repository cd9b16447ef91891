"""One settings object, read once (issue 15): `Configuration` copies the RECOGRAPH_* variables
once and parses each section (settings, serving, experiment) from that copy; the CLI hands it
to the command and the app takes its sections from it."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from recograph.cli import main
from recograph.commands import configuration_of
from recograph.online.config import ServingConfig
from recograph.online.configuration import Configuration
from recograph.online.variants import Experiment, Variant
from recograph.serving.app import create_app
from recograph.settings import Settings, SettingsError


def test_the_variables_are_copied_once_and_later_changes_do_not_reach_them() -> None:
    environ = {"RECOGRAPH_PORT": "9001", "RECOGRAPH_CATEGORY_CAP": "2", "HOME": "/root"}
    configuration = Configuration.from_env(environ)
    environ["RECOGRAPH_PORT"] = "9002"
    assert dict(configuration.environment.values) == {
        "RECOGRAPH_PORT": "9001",
        "RECOGRAPH_CATEGORY_CAP": "2",
    }
    assert configuration.settings.port == 9001
    assert configuration.serving.category_cap == 2
    assert configuration.serving.business_rules.max_per_category == 2  # the engine's rules
    assert configuration.experiment == Experiment()
    assert configuration.settings is configuration.settings  # parsed once, then kept


def test_each_section_reads_as_its_own_reader_does() -> None:
    environ = {
        "RECOGRAPH_HOST": "0.0.0.0",
        "RECOGRAPH_PROMOTED_SLOTS": "2,5",
        "RECOGRAPH_VARIANTS": '[{"name": "pop", "share": 0.5, "strategy": "POPULAR"}]',
    }
    configuration = Configuration.from_env(environ)
    assert configuration.settings == Settings.from_env(environ)
    assert configuration.serving == ServingConfig.from_env(environ)
    assert configuration.experiment == Experiment.from_env(environ)
    assert configuration.experiment.variants[0].name == "pop"


def test_a_bad_value_names_the_variable_and_value_in_its_section_only() -> None:
    configuration = Configuration.from_env(
        {"RECOGRAPH_MARGIN_WEIGHT": "lots", "RECOGRAPH_PORT": "8100"}
    )
    assert configuration.settings.port == 8100  # an offline command never reads serving
    with pytest.raises(SettingsError, match="RECOGRAPH_MARGIN_WEIGHT must be a number, got 'lots'"):
        _ = configuration.serving
    with pytest.raises(SettingsError, match="RECOGRAPH_MARGIN_WEIGHT"):
        configuration.validate()


def test_given_sections_replace_what_the_environment_says() -> None:
    settings = Settings(port=7000)
    experiment = Experiment((Variant("a", 0.5),))
    configuration = Configuration.of(
        settings,
        experiment=experiment,
        environ={"RECOGRAPH_PORT": "1", "RECOGRAPH_CATEGORY_CAP": "4"},
    )
    assert configuration.settings is settings
    assert configuration.experiment is experiment
    assert configuration.serving.category_cap == 4


def test_serve_flags_update_the_configuration() -> None:
    base = Configuration.from_env({"RECOGRAPH_PORT": "8000", "RECOGRAPH_HOST": "127.0.0.1"})
    served = base.updated({"RECOGRAPH_PORT": "9000"})
    assert (served.settings.host, served.settings.port) == ("127.0.0.1", 9000)
    assert base.settings.port == 8000


def test_the_app_takes_its_sections_from_the_configuration(tmp_path: Path) -> None:
    configuration = Configuration.from_env(
        {
            "RECOGRAPH_ARTIFACTS": str(tmp_path),
            "RECOGRAPH_DATABASE_URL": "",
            "RECOGRAPH_CATEGORY_CAP": "1",
            "RECOGRAPH_VARIANTS": '[{"name": "b", "share": 0.25}]',
        }
    )
    app = create_app(configuration=configuration, playground=False)
    services = app.state.services
    assert services.settings.artifacts_dir == tmp_path
    assert services.config.business_rules.max_per_category == 1
    assert [v.name for v in services.experiment.variants] == ["b"]


def test_the_cli_reads_the_configuration_once_and_hands_it_to_the_command(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    monkeypatch.setenv("RECOGRAPH_ARTIFACTS", str(tmp_path / "nothing-here"))
    assert main(["evaluate"]) == 2
    assert str(tmp_path / "nothing-here") in capsys.readouterr().err
    handed = Configuration.from_env({"RECOGRAPH_PORT": "1234"})
    assert configuration_of(argparse.Namespace(configuration=handed)) is handed
