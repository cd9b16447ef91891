"""The one settings object: every ``RECOGRAPH_*`` variable, read once at startup.

`Configuration.from_env` copies the process's ``RECOGRAPH_*`` variables once; its sections
are parsed from that copy through the one `settings.Environment` the first time each is
asked for, then kept:

- ``settings`` (`settings.Settings`): paths, database, HTTP, security and query limits — what
  every command and the server read;
- ``serving`` (`online.config.ServingConfig`): business rules (the engine's configuration),
  the event writer, reload and live-purchase polling, ranking;
- ``experiment`` (`online.variants.Experiment`): the A/B variants of ``RECOGRAPH_VARIANTS``.

The CLI reads it once in ``cli.main`` and hands it to the command (``args.configuration``);
``recograph serve`` validates every section before it starts, and the app
(`serving.app.create_app`) takes its sections from it. A section is parsed only when asked
for, so an offline command is not refused for a bad serving variable it never reads; a bad
value raises `settings.SettingsError` naming the variable and the value.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING

from recograph.settings import Environment, Settings

if TYPE_CHECKING:  # imported when first read: the CLI reads this before every command
    from recograph.online.config import ServingConfig
    from recograph.online.variants import Experiment

PREFIX = "RECOGRAPH_"


@dataclass(frozen=True)
class Configuration:
    """Every ``RECOGRAPH_*`` setting of one process, in three sections parsed at most once."""

    environment: Environment = field(default_factory=lambda: Environment({}))

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Configuration:
        """A copy of the ``RECOGRAPH_*`` variables of ``environ`` (``os.environ`` by default):
        later changes to the process environment do not reach it."""
        source = os.environ if environ is None else environ
        return cls(Environment({k: v for k, v in source.items() if k.startswith(PREFIX)}))

    @classmethod
    def of(
        cls,
        settings: Settings | None = None,
        serving: ServingConfig | None = None,
        experiment: Experiment | None = None,
        *,
        environ: Mapping[str, str] | None = None,
    ) -> Configuration:
        """A configuration whose given sections are these objects (the rest are read from
        ``environ``, by default the process's): what callers that build sections by hand
        (tests, benchmarks, `create_app`'s keyword arguments) pass on."""
        configuration = cls.from_env(environ)
        given = {"settings": settings, "serving": serving, "experiment": experiment}
        for name, section in given.items():
            if section is not None:
                object.__setattr__(configuration, name, section)  # fills the cached_property
        return configuration

    def updated(self, values: Mapping[str, str]) -> Configuration:
        """This configuration with some variables set (``recograph serve``'s flags), read
        again from the merged variables."""
        return Configuration(Environment({**self.environment.values, **values}))

    @cached_property
    def settings(self) -> Settings:
        return Settings.from_environment(self.environment)

    @cached_property
    def serving(self) -> ServingConfig:
        from recograph.online.config import ServingConfig

        return ServingConfig.from_environment(self.environment)

    @cached_property
    def experiment(self) -> Experiment:
        from recograph.online.variants import Experiment

        return Experiment.from_environment(self.environment)

    def validate(self) -> Configuration:
        """Parse every section now (a server refuses bad values before it starts)."""
        _ = (self.settings, self.serving, self.experiment)
        return self
