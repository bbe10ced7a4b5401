"""One error hierarchy for livingmeta.

Every error the engine or the pipeline raises on purpose derives from ``LivingmetaError``, so
a command-line shell can turn any of them into one clear message (file, field, value, fix) and
an exit code, and let everything else surface as the bug it is. Each subclass stays a
``ValueError`` so callers that caught the old bare ``ValueError`` keep working.

Messages name what was found and the valid options (e.g. "method must be one of REML, DL, ...;
got 'XYZ'").
"""
from __future__ import annotations


class LivingmetaError(ValueError):
    """Base class: an input or setting livingmeta refuses, with a message a reviewer can act on."""


class ConfigError(LivingmetaError):
    """config/config.yaml (or a command-line setting) is invalid."""


class EffectSizeError(LivingmetaError):
    """Inputs from which no effect size can be computed (non-finite, n < 2, SD <= 0, ...)."""


class ModelError(LivingmetaError):
    """The data cannot be fitted as asked (too few studies, rank-deficient moderators, ...)."""


class ConvergenceError(ModelError):
    """An iterative estimator did not converge within its iteration limit."""


class ImportFormatError(LivingmetaError):
    """An imported file (sheet, RevMan, data package, Metapsy database) cannot be mapped."""


class PublishError(LivingmetaError):
    """Publishing an edition (copy, feed, e-mail) failed; the edition itself is intact."""


class FigureError(LivingmetaError):
    """A figure could not be rendered as valid SVG; the build stops rather than omit it."""


class StageOutputError(LivingmetaError):
    """A stage's output breaks its contract (its JSON Schema in workflow/schemas/): a bug in
    livingmeta, caught before the file is written, so no later stage reads it."""
