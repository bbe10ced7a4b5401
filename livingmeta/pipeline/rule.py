"""The one start of every rule script: ``ctx = rule_context(snakemake)``.

It does what each script would otherwise repeat (and what eight of them got wrong):
- loads the review definition (``input.review``) once and stops on its problems with the
  one-line message of :class:`~livingmeta.pipeline.records.Problem` (file, field, value, fix);
- sends the script's stderr, Python tracebacks included, to the rule's log (``log[0]``), as the
  Snakemake workflow catalog does (``sys.stderr = open(snakemake.log[0], "w")``);
- keeps the console to one line per stage: :meth:`RuleContext.line` prints the stage's summary
  (and appends it to the log); an uncaught LivingmetaError (bad input) prints its message, any
  other error (a bug) one line naming the error and the log that holds its traceback.
"""
from __future__ import annotations

import sys
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from livingmeta.errors import LivingmetaError
from livingmeta.files import stage_line
from livingmeta.pipeline.records import Problem, RecordError, load_yaml


@dataclass
class RuleContext:
    sm: object                 # the ``snakemake`` object Snakemake injects into the script
    stage: str                 # the rule's name, the prefix of its console line
    log: str | None            # the rule's log file
    console: TextIO            # the terminal's stderr (sys.stderr now writes to the log)
    review_def: dict | None    # review.yaml, when the rule has an ``input.review``

    def line(self, message: str) -> None:
        """The one line the stage reports about what it produced (console and log)."""
        stage_line(self.stage, message, self.log, console=self.console)

    def fail(self, err: BaseException) -> None:
        """Report ``err`` as one console line and its traceback in the log, and exit non-zero."""
        self.report_error(type(err), err, err.__traceback__)
        raise SystemExit(1)

    def report_error(self, exc_type, exc, tb) -> None:
        """sys.excepthook: one line on the console. A LivingmetaError is bad input, whose message
        names file, field, value and fix: the log gets that message too, never a traceback (the
        profile shows failed logs). Anything else is a bug: its traceback goes to the log."""
        if isinstance(exc, LivingmetaError):
            stage_line(self.stage, str(exc), self.log, console=self.console)
            return
        traceback.print_exception(exc_type, exc, tb, file=sys.stderr)
        sys.stderr.flush()
        message = f"failed: {exc_type.__name__}: {exc}" + (f" (traceback in {self.log})" if self.log else "")
        stage_line(self.stage, message, None, console=self.console)


def rule_context(sm, stage: str | None = None) -> RuleContext:
    """Set up a rule script (see the module's docstring); ``stage`` defaults to the rule's name."""
    log = str(sm.log[0]) if len(getattr(sm, "log", []) or []) else None
    console = sys.stderr
    stage = stage or getattr(sm, "rule", None) or Path(sys.argv[0]).stem
    ctx = RuleContext(sm, stage, log, console, None)
    if log:
        Path(log).parent.mkdir(parents=True, exist_ok=True)
        sys.stderr = open(log, "w", encoding="utf-8", buffering=1)  # noqa: SIM115 (lives as long as the script)
    sys.excepthook = ctx.report_error
    review = getattr(sm.input, "review", None)
    if review is not None:
        definition, problem = load_yaml(Path(review))
        if problem is None and not isinstance(definition, dict):
            problem = Problem(str(review), "(file)", "must be a mapping of review settings (see workflow/schemas/review.schema.yaml)",
                              type(definition).__name__)
        if problem is not None:
            ctx.fail(RecordError([problem]))
        ctx.review_def = definition
    return ctx
