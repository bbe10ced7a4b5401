"""SYNTHETIC data for benchmarks only: seeded, labelled synthetic everywhere it appears, and never
written under data/reviews/ of the project."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import yaml

SEED = 20251125


def effects(k: int, *, seed: int = SEED, tau2: float = 0.05, mods: int = 0):
    """k synthetic effect sizes: v ~ U(0.01, 0.2), y ~ N(0.3 + X b, v + tau2)."""
    rng = np.random.default_rng(seed + k)
    v = rng.uniform(0.01, 0.2, k)
    X = rng.normal(size=(k, mods))
    y = rng.normal(0.3 + X @ np.full(mods, 0.1), np.sqrt(v + tau2))
    return y, v, X


def clustered(n_clusters: int, per_cluster: int, *, seed: int = SEED):
    """Synthetic dependent effects: cluster and effect-level heterogeneity."""
    rng = np.random.default_rng(seed + n_clusters)
    cl = np.repeat(np.arange(n_clusters), per_cluster)
    v = rng.uniform(0.01, 0.2, cl.size)
    u = rng.normal(0, np.sqrt(0.05), n_clusters)[cl]
    y = rng.normal(0.3 + u, np.sqrt(v + 0.02))
    return y, v, cl


def write_review(data_dir: Path, review_id: str, template_review: Path, n_trials: int, *, seed: int) -> Path:
    """A synthetic review in livingmeta's format: the default review's definition (retitled as
    SYNTHETIC) and ``n_trials`` generated trial records with plausible per-arm numbers."""
    rng = np.random.default_rng(seed)
    root = data_dir / review_id
    (root / "trials").mkdir(parents=True, exist_ok=True)
    review = yaml.safe_load((template_review / "review.yaml").read_text())
    review.update(id=review_id, title=f"SYNTHETIC benchmark review {review_id}",
                  subtitle="Synthetic data generated for benchmarking; not evidence of anything")
    review.pop("external_evidence", None)
    (root / "review.yaml").write_text(yaml.safe_dump(review, sort_keys=False))
    levels = list(next(m for m in review["moderators"] if m["name"] == "exercise_type")["levels"])
    for i in range(n_trials):
        tid = f"synthetic-{i + 1:03d}"
        n1, n2 = (int(x) for x in rng.integers(10, 80, 2))
        sd = float(np.round(rng.uniform(4, 8), 1))
        m2 = float(np.round(rng.uniform(12, 20), 1))
        m1 = float(np.round(m2 + rng.normal(-3, 3), 1))
        rec = {"id": tid, "label": f"Synthetic {i + 1}", "year": int(rng.integers(1980, 2025)),
               "citation": {"first_author": "SYNTHETIC"},
               "arms": {"exercise": {"role": "intervention"}, "control": {"role": "control"}},
               "moderators": {"exercise_type": levels[int(rng.integers(0, 3))], "weeks": float(rng.integers(4, 30))},
               "outcomes": {"depression": [{"timepoint": "post_treatment", "source": "SYNTHETIC (benchmark generator)",
                                            "arms": {"exercise": {"n": n1, "mean": m1, "sd": sd},
                                                     "control": {"n": n2, "mean": m2, "sd": sd}}}]}}
        (root / "trials" / f"{tid}.yaml").write_text(yaml.safe_dump(rec, sort_keys=False))
    return root
