"""What the CLI shows: human output on stdout, logs and progress on stderr.

* stdout carries only the command's result (tables, the one-line summary) or, under
  ``--json``, one JSON document;
* stderr carries log records (WARNING and up by default; ``-v`` INFO, ``-vv`` DEBUG, ``-q``
  errors only) and progress bars, which are drawn only when stderr is a terminal;
* output that is not going to a terminal is plain: no colour, no wrapping, no live display.
"""

from __future__ import annotations

import logging
import math
import re
import shutil
import sys
import textwrap
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TextIO

from rich import box
from rich.console import Console
from rich.logging import RichHandler
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

if TYPE_CHECKING:  # the evaluation imports numpy and the engine: only when a table is drawn
    from recograph.evaluation.evaluate import EvaluationReport

# Wide enough that no table or line is ever wrapped when the output is a file or a pipe.
PLAIN_WIDTH = 10_000
LOG_FORMAT = "%(levelname)s %(name)s: %(message)s"
VERBOSE_LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
HANDLER_NAME = "recograph.cli"


def log_level(verbosity: int) -> int:
    """``-q`` (negative) → ERROR, default → WARNING, ``-v`` → INFO, ``-vv`` → DEBUG."""
    if verbosity < 0:
        return logging.ERROR
    return (logging.WARNING, logging.INFO)[verbosity] if verbosity < 2 else logging.DEBUG


def console(stream: TextIO | None = None, *, quiet: bool = False) -> Console:
    """A console on ``stream`` (stdout by default): styled in a terminal, plain and unwrapped
    otherwise."""
    stream = stream or sys.stdout
    terminal = stream.isatty()
    return Console(
        file=stream,
        quiet=quiet,
        soft_wrap=not terminal,
        width=None if terminal else PLAIN_WIDTH,
        no_color=not terminal,
        highlight=terminal,
        emoji=False,
    )


def setup_logging(verbosity: int, stderr: Console | None = None) -> None:
    """Log records to stderr at the verbosity's level (rich's handler in a terminal, so they
    print above any progress bar instead of through it)."""
    level = log_level(verbosity)
    stderr = stderr or console(sys.stderr)
    handler: logging.Handler
    if stderr.is_terminal:
        handler = RichHandler(console=stderr, show_path=False, show_time=verbosity > 0)
        handler.setFormatter(logging.Formatter("%(name)s: %(message)s"))
    else:
        handler = logging.StreamHandler(stderr.file)
        handler.setFormatter(logging.Formatter(VERBOSE_LOG_FORMAT if verbosity else LOG_FORMAT))
    handler.set_name(HANDLER_NAME)
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == HANDLER_NAME]:
        root.removeHandler(old)  # a previous main() in the same process; others stay
    root.addHandler(handler)
    root.setLevel(level)
    # One line per plugin / per HTTP request: noise even at INFO; kept for -vv.
    noisy = logging.DEBUG if verbosity >= 2 else max(level, logging.WARNING)
    for name in ("alembic.runtime.plugins", "httpx", "httpcore"):
        logging.getLogger(name).setLevel(noisy)


@dataclass
class ProgressDisplay:
    """Renders `recograph.progress.Progress` calls as rich progress bars with an estimate,
    on stderr, only when it is a terminal. Each task's bar disappears when it completes and a
    ``✓ task  seconds`` line stays (on any stream), so the finished steps read as a list."""

    stderr: Console
    bars: Progress | None = None
    tasks: dict[str, TaskID] = field(default_factory=dict)
    started: dict[str, float] = field(default_factory=dict)

    def __call__(self, task: str, done: int, total: int) -> None:
        if total <= 0:  # nothing to wait for
            return
        now = time.perf_counter()
        self.started.setdefault(task, now)
        if self.bars is not None:
            if task not in self.tasks:
                self.tasks[task] = self.bars.add_task(task, total=total)
            self.bars.update(self.tasks[task], completed=done, total=total)
        if done >= total:
            self.finished(task, now - self.started.pop(task))
            if self.bars is not None and task in self.tasks:
                self.bars.remove_task(self.tasks.pop(task))

    def finished(self, task: str, seconds: float) -> None:
        self.stderr.print(f"  [green]✓[/green] {task:<24} {seconds:8.2f} s")

    @contextmanager
    def live(self) -> Iterator[ProgressDisplay]:
        """Draw the bars while the block runs (a no-op display when stderr is not a tty)."""
        if not self.stderr.is_terminal or self.stderr.quiet:
            yield self
            return
        self.bars = Progress(
            TextColumn("  {task.description:<24}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TextColumn("eta"),
            TimeRemainingColumn(),
            console=self.stderr,
            transient=True,
        )
        with self.bars:
            try:
                yield self
            finally:
                self.bars = None


HEADLINE_COLUMNS = (
    ("NDCG@10", "ndcg@10"),
    ("HR@10", "hit_rate@10"),
    ("P@10", "precision@10"),
    ("R@10", "recall@10"),
    ("coverage@10", "coverage@10"),
)


def headline_table(report: EvaluationReport, title: str) -> Table:
    """One row per model, all customers, the @10 metrics a shop owner compares models by
    (`recograph evaluate` prints every segment and k)."""
    from recograph.evaluation.metrics import ALL_USERS

    table = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False)
    table.add_column("model")
    for label, _ in HEADLINE_COLUMNS:
        table.add_column(label, justify="right")
    for name, result in report.results.items():
        metrics = result.row(ALL_USERS).metrics
        cells = [metrics.get(key) for _, key in HEADLINE_COLUMNS]
        table.add_row(name, *("-" if v is None or math.isnan(v) else f"{v:.4f}" for v in cells))
    return table


def help_description(doc: str | None) -> str | None:
    """A module docstring as ``--help`` text: its paragraphs after the title line, without
    reStructuredText markup (argparse prints ````--seconds```` literally)."""
    if not doc:
        return None
    width = max(min(shutil.get_terminal_size().columns - 2, 100), 40)
    paragraphs = []
    for paragraph in doc.strip().split("\n\n")[1:]:
        plain = re.sub(r"``([^`]+)``", r"\1", " ".join(paragraph.split()))
        plain = re.sub(r"`([^`]+)`", r"\1", plain)
        paragraphs.append(textwrap.fill(plain, width))
    return "\n\n".join(paragraphs)
