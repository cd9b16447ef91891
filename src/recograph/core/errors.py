"""One exception tree: catch `RecographError` for anything recograph refuses, or a branch for
one cause. Each class keeps the built-in base it had (``ValueError``…), so older handlers
still catch it. The private control-flow exceptions of the fast path are not part of it.

    RecographError
    ├── SettingsError (ValueError)            settings: a RECOGRAPH_* value cannot be used
    ├── StoreFormatError                      io.reader: the export cannot be read
    ├── FieldError                            io.validate: one row's field is invalid
    ├── UnsupportedDatabaseError (ValueError) importer: not SQLite or PostgreSQL
    ├── ArtifactError                         artifacts: a build is missing, corrupt, other format
    ├── TooManyItemsError (ValueError)        recommenders.ease: the catalogue is too large
    ├── UnknownBaseline (ValueError)          online.metrics: no such experiment arm
    ├── BuildError                            the build could not run (``exit_status``)
    │   └── SparkStartError                   spark: the Spark session did not start
    ├── EngineUnavailable (RuntimeError)      engines: the Spark extra or Java is missing
    ├── ReloadRefused                         online.state: a new build was not swapped in
    └── ApiError                              schema.errors: coded, shown to the API client
        ├── BadInput     BAD_INPUT
        ├── NotFound     NOT_FOUND
        ├── Forbidden    FORBIDDEN
        └── Unavailable  UNAVAILABLE
"""

from __future__ import annotations


class RecographError(Exception):
    """The base of every error recograph raises on purpose."""


class BuildError(RecographError):
    """The build could not run; the message says why, ``exit_status`` is 2 for bad input."""

    def __init__(self, message: str, exit_status: int = 1) -> None:
        super().__init__(message)
        self.exit_status = exit_status
