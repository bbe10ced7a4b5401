"""Ranked screening that never excludes a record.

The ranker is scikit-learn's TF-IDF (words, word pairs and character 3- to 5-grams of title and
abstract found in at least 3 records, sublinear term frequency) and logistic regression
(liblinear's dual solver, fast when the decisions are separable) with class-balanced weights, trained on the review's own
title/abstract decisions: the model of ASReview's and Rayyan's defaults' family, which stays
better than random under the extreme imbalance of screening (0.5 to 20% included), where an
unweighted model may not. Every undecided record stays in the queue, ranked; nothing is dropped.

Reported beside the queue, never acted on:

- the screening depth needed for 95, 99 and 100% recall, cross-validated on the decisions made
  (stratified folds; the share of each held-out fold screened in ranked order to find that share
  of its inclusions);
- the stopping statistic of Callaghan & Müller-Hansen (2020, Systematic Reviews 9:273; the buscar
  method): the p-value of the hypothesis that recall is below a target (default 95%), treating
  the last n records screened as a sample of those not screened before them (hypergeometric),
  minimised over n. A small p (below 1 - confidence) says one can be that confident that the
  target recall was reached *if* screening followed the ranking; the queue is never cut.

With fewer than 3 inclusions the ranking learns from too few examples: the queue says so, and
neither the depth table nor the stopping statistic is computed.
"""

from __future__ import annotations

import math

import numpy as np

MIN_INCLUSIONS = 3
RECALL_TARGETS = (0.95, 0.99, 1.0)


def model(seed: int = 0):
    """The classifier: class-balanced logistic regression (liblinear, deterministic)."""
    from sklearn.linear_model import LogisticRegression
    return LogisticRegression(class_weight="balanced", C=1.0, solver="liblinear", dual=True, random_state=seed,
                              max_iter=1000)


def features(texts: list[str]):
    """TF-IDF of every record's title and abstract, fitted on the text only, never on decisions:
    words and word pairs, beside character 3- to 5-grams within words (robust to spelling
    variants and to new terms such as a new drug or brand name, which a later search brings),
    each term kept when it is found in at least 3 records."""
    from scipy.sparse import csr_matrix, hstack
    from sklearn.feature_extraction.text import TfidfVectorizer
    texts = [t or "" for t in texts]
    common = dict(sublinear_tf=True, min_df=3, max_df=0.95, strip_accents="unicode", dtype=np.float64)
    parts = []
    for vec in (TfidfVectorizer(ngram_range=(1, 2), stop_words="english", **common),
                TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 5), **common)):
        try:
            parts.append(vec.fit_transform(texts))
        except ValueError:  # no term in 3 records (a handful of records, or empty titles)
            pass
    return hstack(parts).tocsr() if parts else csr_matrix(np.ones((len(texts), 1)))


def scores(X, labelled: np.ndarray, y: np.ndarray, seed: int = 0) -> np.ndarray:
    """The probability of inclusion of every row of X, from a model fitted on the rows
    ``labelled`` with labels ``y``; None-like (all zeros) without both classes."""
    if len(set(y.tolist())) < 2:
        return np.zeros(X.shape[0])
    clf = model(seed).fit(X[labelled], y)
    return clf.predict_proba(X)[:, 1]


def ranked_order(score: np.ndarray, ids: list[str]) -> list[int]:
    """Indices by score, highest first; ties by id (deterministic)."""
    return sorted(range(len(ids)), key=lambda i: (-round(float(score[i]), 12), ids[i]))


def screened_for_recall(labels_in_order: np.ndarray, target: float) -> int | None:
    """How many records, screened in this order, find ``target`` of the inclusions."""
    total = int(labels_in_order.sum())
    if total == 0:
        return None
    need = math.ceil(target * total - 1e-9)
    return int(np.argmax(np.cumsum(labels_in_order) >= need)) + 1


def stopping_p(seen_labels, n_total: int, target: float = 0.95) -> float:
    """buscar's p-value for H0 "recall < target" after screening ``seen_labels`` (in screening
    order) of ``n_total`` records (Callaghan & Müller-Hansen 2020, eq. 1-3): for each n, the last
    n screened are a sample of the urn N - (seen - n) holding, under H0, at least
    K = floor(r_seen / target - r_before) + 1 relevant records; p = min over n of
    P(X <= k_n) for X ~ Hypergeometric(urn, K, n)."""
    from scipy.stats import hypergeom  # scipy.stats takes seconds to import: only when needed
    seen = np.asarray(seen_labels, dtype=int)
    n_seen, r_seen = len(seen), int(seen.sum())
    if n_seen == 0 or r_seen == 0:
        return 1.0
    k = np.cumsum(seen[::-1])
    n = np.arange(1, n_seen + 1)
    urn = n_total - (n_seen - n)
    r_before = r_seen - k
    big_k = np.floor(r_seen / target - r_before).astype(int) + 1
    possible = big_k <= urn   # else the urn cannot hold K relevant records: recall >= target for sure (p = 0)
    p = np.zeros(n_seen)
    p[possible] = hypergeom.cdf(k[possible], urn[possible], big_k[possible], n[possible])
    return float(p.min())


def depth_table(X, y: np.ndarray, folds: int = 5, seed: int = 0) -> list[dict]:
    """Cross-validated share of records screened for each recall target (mean, min, max over
    stratified folds of the decided records)."""
    from sklearn.model_selection import StratifiedKFold
    n_pos = int(y.sum())
    k = min(folds, n_pos, len(y) - n_pos)
    if n_pos < MIN_INCLUSIONS or k < 2:
        return []
    depths = {t: [] for t in RECALL_TARGETS}
    for train, test in StratifiedKFold(k, shuffle=True, random_state=seed).split(np.zeros(len(y)), y):
        clf = model(seed).fit(X[train], y[train])
        held = clf.predict_proba(X[test])[:, 1]
        order = np.argsort(-held, kind="stable")
        for t in RECALL_TARGETS:
            depths[t].append(screened_for_recall(y[test][order], t) / len(test))
    return [{"recall": t, "share_screened_mean": float(np.mean(v)), "share_screened_min": float(np.min(v)),
             "share_screened_max": float(np.max(v)), "folds": k} for t, v in depths.items()]
