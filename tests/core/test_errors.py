"""One exception tree: everything recograph raises on purpose is a `RecographError`, keeps the
built-in base older handlers catch, and the API's coded errors are one branch of it."""

from __future__ import annotations

import pytest

from recograph.artifacts import ArtifactError
from recograph.core.errors import BuildError, RecographError
from recograph.engines import EngineUnavailable
from recograph.importer import UnsupportedDatabaseError
from recograph.io.reader import StoreFormatError
from recograph.io.validate import FieldError
from recograph.online.metrics import UnknownBaseline
from recograph.online.state import ReloadRefused
from recograph.recommenders.ease import TooManyItemsError
from recograph.schema.errors import ApiError, BadInput, Forbidden, NotFound, Unavailable
from recograph.settings import SettingsError


@pytest.mark.parametrize(
    ("error", "builtin"),
    [
        (SettingsError, ValueError),
        (UnsupportedDatabaseError, ValueError),
        (TooManyItemsError, ValueError),
        (UnknownBaseline, ValueError),
        (EngineUnavailable, RuntimeError),
        (StoreFormatError, Exception),
        (FieldError, Exception),
        (ArtifactError, Exception),
        (BuildError, Exception),
        (ReloadRefused, Exception),
        (ApiError, Exception),
    ],
)
def test_every_error_is_a_recograph_error_and_keeps_its_builtin_base(
    error: type[Exception], builtin: type[Exception]
) -> None:
    assert issubclass(error, RecographError)
    assert issubclass(error, builtin)


def test_api_errors_are_the_coded_branch() -> None:
    codes = {
        cls: cls("x").extensions["code"] for cls in (BadInput, NotFound, Forbidden, Unavailable)
    }
    assert codes == {
        BadInput: "BAD_INPUT",
        NotFound: "NOT_FOUND",
        Forbidden: "FORBIDDEN",
        Unavailable: "UNAVAILABLE",
    }
    assert all(issubclass(cls, ApiError) for cls in codes)
    assert not issubclass(BuildError, ApiError)


def test_build_error_keeps_its_exit_status() -> None:
    assert BuildError("bad input", exit_status=2).exit_status == 2
    assert BuildError("failed").exit_status == 1
