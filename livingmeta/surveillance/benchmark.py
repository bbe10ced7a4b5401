"""How well the ranked screening works, measured on labelled data (``livingmeta surveil
benchmark DIR``).

DIR holds a dataset in the SYNERGY layout (De Bruin et al. 2023): ``labels.csv``
(``openalex_id, doi, pmid, label_included``) and ``works_1.zip`` (JSON arrays of OpenAlex works,
the abstract as an inverted index). The simulation screens in the tool's own order: it starts
from one included and one excluded record drawn at random (seeded; the prior knowledge of
ASReview's simulations), then screens the highest-ranked unscreened records, refitting the model
every ``batch`` records on every decision so far. It reports, as fractions of the records:

- ``wss_95``: work saved over sampling at 95% recall (Cohen et al. 2006), 1 - screened/N - 0.05;
- ``screened_for_95``: the share screened when 95% of the inclusions were found;
- ``stopped_at``: the share screened when the stopping statistic first fell below 1 - confidence
  (never acted on; null if it never did), and ``recall_at_stop`` the true recall then.

:func:`living_simulation` is the two-run case: records published before a cutoff were screened in
the first run; those after it arrive in the next search and are ranked by a model trained on the
first run's decisions (refitted as the new ones are screened).
"""

from __future__ import annotations

import csv
import io
import json
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from livingmeta.errors import LivingmetaError
from livingmeta.surveillance.screening import features, model, ranked_order, screened_for_recall, stopping_p


class BenchmarkDataError(LivingmetaError):
    """A folder that is not a SYNERGY-layout dataset."""


@dataclass
class LabelledSet:
    name: str
    ids: list[str]
    texts: list[str]
    labels: np.ndarray
    dates: list[str]


def abstract_from_index(index: dict | None) -> str:
    """OpenAlex's ``abstract_inverted_index`` (word -> positions) back to text."""
    if not index:
        return ""
    slots = {}
    for word, positions in index.items():
        for p in positions:
            slots[p] = word
    return " ".join(slots[p] for p in sorted(slots))


def load_synergy(folder) -> LabelledSet:
    folder = Path(folder)
    labels_path, works_path = folder / "labels.csv", folder / "works_1.zip"
    for p in (labels_path, works_path):
        if not p.is_file():
            raise BenchmarkDataError(f"{p}: not found; a SYNERGY-layout folder holds labels.csv and works_1.zip")
    try:
        rows = list(csv.DictReader(io.StringIO(labels_path.read_text(encoding="utf-8"))))
    except (OSError, UnicodeDecodeError) as e:
        raise BenchmarkDataError(f"{labels_path}: cannot be read ({e})") from None
    if not rows or "openalex_id" not in rows[0] or "label_included" not in rows[0]:
        raise BenchmarkDataError(f"{labels_path}: needs the columns openalex_id and label_included")
    works = {}
    try:
        with zipfile.ZipFile(works_path) as z:
            for name in sorted(z.namelist()):
                if name.endswith(".json"):
                    for w in json.loads(z.read(name)):
                        works[str(w.get("id", "")).lower()] = w
    except (zipfile.BadZipFile, ValueError, OSError, RuntimeError) as e:
        raise BenchmarkDataError(f"{works_path}: not a readable zip of JSON arrays ({e.__class__.__name__}: {e})") from None
    ids, texts, labels, dates = [], [], [], []
    for r in rows:
        key = r["openalex_id"].strip().lower()
        w = works.get(key, {})
        ids.append(key)
        texts.append(f"{w.get('title') or ''} {abstract_from_index(w.get('abstract_inverted_index'))}".strip())
        try:
            labels.append(int(r["label_included"]))
        except ValueError:
            raise BenchmarkDataError(f"{labels_path}: label_included {r['label_included']!r} is not 0 or 1") from None
        dates.append(str(w.get("publication_date") or w.get("publication_year") or ""))
    return LabelledSet(folder.name, ids, texts, np.array(labels, dtype=int), dates)


def _batch(n: int) -> int:
    """Records screened between two refits: 1% of the set (about 100 refits a simulation)."""
    return max(1, -(-n // 100))


def _screen(X, labels: np.ndarray, ids: list[str], screened: list[int], pool: list[int], confidence: float,
            target: float, n_total: int, seed: int, batch: int):
    """Screen every record of ``pool`` in ranked order after ``screened`` (already decided);
    returns the screening order (of pool records) and the share of pool screened when the
    stopping statistic first fell below 1 - confidence (or None)."""
    decided = list(screened)
    remaining = set(pool)
    order: list[int] = []
    stop = None
    while remaining:
        rest = sorted(remaining)
        y = labels[decided]
        if len(set(y.tolist())) < 2:
            ranked = rest  # the tool's order without a model: record order
        else:
            clf = model(seed).fit(X[decided], y)
            p = clf.predict_proba(X[rest])[:, 1]
            ranked = [rest[i] for i in ranked_order(p, [ids[j] for j in rest])]
        for i in ranked[:batch]:
            remaining.discard(i)
            order.append(i)
            decided.append(i)
        if stop is None and len(order) < len(pool):
            if stopping_p(labels[order], len(pool), target) < 1 - confidence:
                stop = len(order)
    return order, stop


def simulate(data: LabelledSet, seed: int = 0, confidence: float = 0.95, target: float = 0.95) -> dict:
    """One simulated screening of the whole set (see the module docstring)."""
    n, y = len(data.labels), data.labels
    if y.sum() < 1 or y.sum() == n:
        raise BenchmarkDataError(f"{data.name}: needs at least one included and one excluded record")
    rng = np.random.default_rng(seed)
    prior = [int(rng.choice(np.flatnonzero(y == 1))), int(rng.choice(np.flatnonzero(y == 0)))]
    X = features(data.texts)
    pool = [i for i in range(n) if i not in prior]
    order, stop = _screen(X, y, data.ids, prior, pool, confidence, target, n, seed, _batch(n))
    full = np.array(prior + order)
    need = screened_for_recall(y[full], target)
    found_at_stop = None if stop is None else int(y[prior].sum() + y[order[:stop]].sum())
    return {"records": n, "included": int(y.sum()), "wss_95": 1 - need / n - (1 - target),
            "screened_for_95": need / n,
            "stopped_at": None if stop is None else (stop + len(prior)) / n,
            "recall_at_stop": None if stop is None else found_at_stop / int(y.sum())}


def living_simulation(data: LabelledSet, new_share: float = 0.2, seed: int = 0, target: float = 0.95) -> dict | None:
    """Two runs: the oldest (1 - new_share) of the records (by publication date) were screened in
    the first; the rest arrive in the second and are screened in ranked order. Returns the share
    of the new records screened to find ``target`` of the new inclusions (None when the new
    records hold no inclusion)."""
    n = len(data.labels)
    by_date = sorted(range(n), key=lambda i: (data.dates[i] or "0000", data.ids[i]))
    cut = int(round(n * (1 - new_share)))
    old, new = by_date[:cut], by_date[cut:]
    y = data.labels
    if y[new].sum() == 0 or y[old].sum() == 0:
        return None
    X = features(data.texts)
    order, _ = _screen(X, y, data.ids, old, new, 0.95, target, len(new), seed, _batch(len(new)))
    need = screened_for_recall(y[np.array(order)], target)
    return {"records": n, "new_records": len(new), "new_included": int(y[new].sum()),
            "cutoff_date": data.dates[by_date[cut]] if cut < n else None,
            "share_screened_for_95": need / len(new)}
