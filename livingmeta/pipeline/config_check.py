"""Reading and checking the pipeline configuration (config/config.yaml).

The same checks run in the Snakefile and in ``livingmeta update``: the configuration is read with
the records' safe loader (YAML 1.2 numbers, so ``level: 1e-12`` is a number, found out of range,
not "not a number"), then validated against workflow/schemas/config.schema.yaml, whose objects
refuse unknown keys: a typo such as ``methd: DL`` must not quietly run REML and publish. Each
problem names the key, the value and the valid options.
"""

from __future__ import annotations

import copy
import functools
from pathlib import Path

from livingmeta.errors import ConfigError, LivingmetaError
from livingmeta.pipeline.records import _YAML12_FLOAT, load_schema, load_yaml, schema_problems


def _yaml12_numbers(obj):
    """Numbers YAML 1.1 left as text (1e-12): what Snakemake's own loader hands the Snakefile."""
    if isinstance(obj, dict):
        return {k: (v if k == "reviews" else _yaml12_numbers(v)) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_yaml12_numbers(v) for v in obj]
    if isinstance(obj, str) and _YAML12_FLOAT.match(obj):
        return float(obj)
    return obj


RETIRED = {("effect_size", "binary_measure"): "each outcome's effect measure is declared in its review.yaml "
                                            "(outcomes[].effect_measure: RR, OR or RD for binary outcomes); "
                                            "delete this key"}


# Settings that must be ordered: (section path, smaller key, larger key, why). Each is checked on the
# configuration with its defaults, so one key set against the other's default is found too.
ORDERED = (
    (("appraisal", "grade"), "i2_serious", "i2_very_serious",
     "serious inconsistency must start below very serious inconsistency"),
    (("appraisal", "grade"), "ois_alpha", "ois_power", "the power of the optimal information size must exceed its alpha"),
    (("sequential",), "alpha", "power", "the power of the sequential analysis must exceed its alpha"),
)


def _cross_field_problems(config: dict, source) -> list[str]:
    """What the schema cannot see: pairs of settings that contradict each other, and Bayesian
    priors that double precision cannot integrate (the engine's own parser decides)."""
    from livingmeta.stats.bayes import parse_mu_prior, parse_tau_prior
    problems = []
    for path, small, large, why in ORDERED:
        values = config
        for key in path:
            values = values.get(key) or {}
        where = ".".join(path)
        if small in values and large in values and not values[small] < values[large]:
            problems.append(f"{source}: {where}.{small} ({values[small]:g}) must be below {where}.{large} "
                            f"({values[large]:g}): {why}")
    bayes = config.get("bayes") or {}
    priors = [("bayes.tau_prior", bayes.get("tau_prior"), parse_tau_prior),
              ("bayes.mu_prior", bayes.get("mu_prior"), parse_mu_prior),
              *((f"bayes.sensitivity_tau_priors[{i}]", p, parse_tau_prior)
                for i, p in enumerate(bayes.get("sensitivity_tau_priors") or []))]
    for where, spec, parse in priors:
        if spec is not None:
            try:
                parse(spec)
            except LivingmetaError as e:
                problems.append(f"{source}: {where}: {e}")
    return problems


def _missing_reviews(config: dict, source, root) -> list[str]:
    """Each listed review must have its folder with a review.yaml under data_dir (relative to the
    project folder ``root``)."""
    data = Path(config["data_dir"])
    base = data if data.is_absolute() else Path(root) / data
    missing = [r for r in config["reviews"] if not (base / r / "review.yaml").is_file()]
    if not missing:
        return []
    present = sorted(p.parent.name for p in base.glob("*/review.yaml")) if base.is_dir() else []
    return [f"{source}: reviews lists {', '.join(missing)}, but reviews live in {data}/<review-id>/review.yaml and "
            f"{'there is none for ' + ('it' if len(missing) == 1 else 'them')}; "
            + (f"the reviews there: {', '.join(present)}" if present else f"{data} holds no review")
            + "; correct the name or import the review first"]


def check_config(config, source, root=None) -> dict:
    """Return ``config`` with YAML 1.2 numbers and defaults, or raise ConfigError naming every
    problem: schema violations, contradictory settings, priors that cannot be integrated, and (with
    the project folder ``root``) reviews that have no folder."""
    if config is None:
        raise ConfigError(f"{source}: the configuration is empty; it needs at least `reviews: [<review id>]`")
    if not isinstance(config, dict):
        raise ConfigError(f"{source}: the configuration must be a mapping of settings (reviews: ..., pooling: ...), "
                          f"found a {type(config).__name__}")
    config = _yaml12_numbers(config)
    retired = [f"{source}: {section}.{key} is no longer a setting: {why}" for (section, key), why in RETIRED.items()
               if isinstance(config.get(section), dict) and key in config[section]]
    if retired:
        raise ConfigError("; ".join(retired))
    problems = schema_problems(config, "config", source)
    if problems:
        raise ConfigError("; ".join(str(p) for p in problems))
    filled = with_defaults(config)
    problems = _cross_field_problems(filled, source) + ([] if root is None else _missing_reviews(filled, source, root))
    if problems:
        raise ConfigError("; ".join(problems))
    return filled


@functools.lru_cache(maxsize=1)
def _config_schema() -> dict:
    return load_schema("config")


def _fill(instance: dict, schema: dict) -> dict:
    out = dict(instance)
    for key, sub in schema.get("properties", {}).items():
        if key not in out and "default" in sub:
            out[key] = copy.deepcopy(sub["default"])
        if isinstance(out.get(key), dict) and "properties" in sub:
            out[key] = _fill(out[key], sub)
    return out


def with_defaults(config: dict) -> dict:
    """``config`` with every default of workflow/schemas/config.schema.yaml filled in, nested
    sections included. The schema is the one place a setting's default is written: code indexes
    ``cfg["method"]``, never ``cfg.get("method", "REML")``."""
    return _fill(config, _config_schema())


def section(name: str, cfg: dict | None = None) -> dict:
    """Config section ``name`` (pooling, moderators, ...) with the schema's defaults for what
    ``cfg`` leaves out: for the analysis functions, which may be called with a partial section
    (from tests, the command line) as well as with the pipeline's filled one."""
    return with_defaults({name: dict(cfg or {})})[name]


def load_config(path, root=None) -> dict:
    """Read and check a configuration file; raise ConfigError (one line) if it cannot be used
    (``root``: the project folder, to check that every listed review exists)."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: configuration file not found; give an existing file with --configfile")
    config, problem = load_yaml(path)
    if problem:
        raise ConfigError(str(problem))
    return check_config(config, str(path), root)
