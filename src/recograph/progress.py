"""The progress hook long steps report through: ``progress(task, done, total)``.

The pipeline calls it (the default does nothing); the CLI renders it as progress bars
(`recograph.terminal.ProgressDisplay`). Keeping it a plain callable keeps the pipeline free of
any terminal code and lets tests record the calls.
"""

from __future__ import annotations

from collections.abc import Callable

Progress = Callable[[str, int, int], None]


def no_progress(task: str, done: int, total: int) -> None:
    """The default hook: report nothing."""


def every(progress: Progress, task: str, total: int, step: int) -> Callable[[int], None]:
    """A ``tick(done)`` that reports ``task`` every ``step`` units and at the end, so a loop
    over many cheap items does not pay for a report each time."""

    def tick(done: int) -> None:
        if done % step == 0 or done == total:
            progress(task, done, total)

    return tick
