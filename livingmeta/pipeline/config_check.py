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

from livingmeta.errors import ConfigError
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


def check_config(config, source) -> dict:
    """Return ``config`` with YAML 1.2 numbers, or raise ConfigError naming every problem."""
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
    return with_defaults(config)


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


def load_config(path) -> dict:
    """Read and check a configuration file; raise ConfigError (one line) if it cannot be used."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: configuration file not found; give an existing file with --configfile")
    config, problem = load_yaml(path)
    if problem:
        raise ConfigError(str(problem))
    return check_config(config, str(path))
