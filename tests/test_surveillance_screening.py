"""Ranked screening (livingmeta.surveillance.screening, command.rank_queue, benchmark): the queue
never drops a record, says so plainly with fewer than 3 inclusions, exports CSV and RIS that
ASReview and Rayyan read; the stopping statistic agrees with a brute-force hypergeometric sum; the
benchmark runs on a SYNERGY-layout folder (a SYNTHETIC one here, two shared SYNERGY sets below)."""

from __future__ import annotations

import json
import math
import zipfile

import numpy as np
import pytest

from livingmeta.surveillance import benchmark, ledger, screening
from livingmeta.surveillance import candidates as cand
from livingmeta.surveillance.command import rank_queue
from shared_data import shared_path


def brute_force_p(seen, n_total, target):
    """P-value of buscar's test by explicit sums of binomial coefficients (no scipy)."""
    seen = list(seen)
    r_seen = sum(seen)
    best = 1.0
    for n in range(1, len(seen) + 1):
        k = sum(seen[-n:])
        urn = n_total - (len(seen) - n)
        big_k = math.floor(r_seen / target - (r_seen - k)) + 1
        if big_k > urn:
            p = 0.0
        else:
            p = sum(math.comb(big_k, x) * math.comb(urn - big_k, n - x) for x in range(0, k + 1)) / math.comb(urn, n)
        best = min(best, p)
    return best


@pytest.mark.parametrize("seen,n_total", [
    ([1, 1, 0, 1, 0, 0, 0, 0, 0, 0], 40),
    ([1] * 8 + [0] * 60, 100),
    ([1, 0, 1, 1, 0, 1] + [0] * 30, 300),
])
def test_stopping_statistic_matches_a_brute_force_hypergeometric_sum(seen, n_total):
    assert screening.stopping_p(seen, n_total, 0.95) == pytest.approx(brute_force_p(seen, n_total, 0.95), rel=1e-9, abs=1e-12)


def test_stopping_statistic_is_not_small_before_the_inclusions_run_out():
    # inclusions still turning up at the end: no confidence that recall is high
    assert screening.stopping_p([1, 0, 1, 0, 1, 0, 1], 1000) > 0.5
    # a long run of exclusions after every inclusion of a small set: small p
    assert screening.stopping_p([1] * 100 + [0] * 500, 700) < 0.05   # 6 missed would be < 95%: P(none of 6 in 500 of 600)
    assert screening.stopping_p([1] * 10 + [0] * 500, 600) > 0.05    # 1 missed is < 95%: P(missed in the last 90) = 0.15


def test_screened_for_recall():
    order = np.array([1, 0, 1, 0, 0, 1, 0, 0, 0, 1])
    assert screening.screened_for_recall(order, 0.5) == 3
    assert screening.screened_for_recall(order, 0.95) == 10
    assert screening.screened_for_recall(order, 0.75) == 6


def _ledger_with(tmp_path, n=40, included=(), excluded=()):
    folder = tmp_path / "review"
    rows = []
    for i in range(n):
        c = cand.blank()
        topic = "exercise randomised trial depression" if i % 4 == 0 else "cell biology of yeast mitochondria"
        c.update(id=f"pmid:{1000 + i}", kind="publication", pmid=str(1000 + i), title=f"SYNTHETIC record {i} on {topic}",
                 abstract=f"{topic} abstract {i}", sources="pubmed", first_seen="2024-01-31",
                 rct="yes" if i % 4 == 0 else "unknown", year="2024")
        rows.append(c)
    ledger.write_candidates(folder, rows)
    decisions = [{"order": str(k + 1), "candidate_id": f"pmid:{1000 + i}", "stage": "title_abstract",
                  "decision": "include" if i in included else "exclude", "reason": "", "reviewer": "AB",
                  "date": "2024-02-01", "trial_id": ""} for k, i in enumerate([*included, *excluded])]
    ledger.write_decisions(folder, decisions)
    return folder


def test_fewer_than_three_inclusions_get_a_plain_statement_and_no_statistics(tmp_path):
    folder = _ledger_with(tmp_path, included=(0, 4), excluded=(1, 2, 3))
    out = rank_queue(folder)
    assert out["statement"].startswith("Only 2 of the decisions so far are inclusions (fewer than 3)")
    assert out["depth"] == [] and out["stopping"] is None
    assert out["awaiting"] == 35                      # nothing dropped: every undecided record is queued


def test_the_queue_is_ranked_never_cut_and_readable_by_screening_tools(tmp_path):
    import rispy
    folder = _ledger_with(tmp_path, included=(0, 4, 8, 12), excluded=(1, 2, 3, 5, 6, 7))
    out = rank_queue(folder)
    assert out["awaiting"] == 30 and out["depth"] and out["stopping"]["recall_target"] == 0.95
    root = ledger.folder(folder)
    queue = ledger.read_csv(root / "queue.csv", ["rank", "id", "score", "rct", "title", "included"])
    assert len(queue) == 30 and [int(r["rank"]) for r in queue] == list(range(1, 31))
    # the records like the inclusions come first
    top = [int(r["id"].split(":")[1]) - 1000 for r in queue[:6]]
    assert all(i % 4 == 0 for i in top), top
    assert queue[0]["rct"] == "yes"
    refs = rispy.loads((root / "queue.ris").read_text())
    assert len(refs) == 30 and refs[0]["id"] == queue[0]["id"] and "livingmeta queue rank 1" in refs[0]["notes"][0]
    again = (root / "queue.csv").read_bytes()
    rank_queue(folder)
    assert (root / "queue.csv").read_bytes() == again       # deterministic


def test_depth_table_has_the_three_recall_targets(tmp_path):
    rng = np.random.default_rng(1)
    texts = [("depression exercise trial" if i % 5 == 0 else "unrelated topic") + f" {rng.integers(1e6)}" for i in range(100)]
    y = np.array([1 if i % 5 == 0 else 0 for i in range(100)])
    table = screening.depth_table(screening.features(texts), y)
    assert [row["recall"] for row in table] == [0.95, 0.99, 1.0]
    assert all(0 < row["share_screened_mean"] <= 0.5 for row in table)   # separable: far better than random


def _synergy_folder(tmp_path, n=120):
    """A SYNTHETIC dataset in the SYNERGY layout (labels.csv, works_1.zip of OpenAlex-like works)."""
    folder = tmp_path / "Synthetic_2024"
    folder.mkdir()
    rng = np.random.default_rng(7)
    works, lines = [], ["openalex_id,doi,pmid,label_included"]
    for i in range(n):
        relevant = i % 10 == 0
        words = (["exercise", "depression", "randomised"] if relevant else ["yeast", "protein", "folding"]) + \
            [f"w{rng.integers(40)}" for _ in range(6)]
        index = {}
        for pos, w in enumerate(words):
            index.setdefault(w, []).append(pos)
        wid = f"https://openalex.org/W{100 + i}"
        works.append({"id": wid, "title": f"SYNTHETIC work {i}", "publication_date": f"20{10 + i % 10}-01-01",
                      "abstract_inverted_index": index})
        lines.append(f"{wid},,,{1 if relevant else 0}")
    (folder / "labels.csv").write_text("\n".join(lines) + "\n")
    with zipfile.ZipFile(folder / "works_1.zip", "w") as z:
        z.writestr("works_0_100.json", json.dumps(works[:100]))
        z.writestr("works_100_120.json", json.dumps(works[100:]))
    return folder


def test_abstracts_are_rebuilt_from_the_inverted_index():
    assert benchmark.abstract_from_index({"b": [1], "a": [0, 2]}) == "a b a"


def test_benchmark_command_prints_the_promised_json(tmp_path, capsys):
    from livingmeta.cli import main
    folder = _synergy_folder(tmp_path)
    assert main(["surveil", "benchmark", str(folder), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out) == {"records", "included", "wss_95", "screened_for_95", "stopped_at", "recall_at_stop"}
    assert out["records"] == 120 and out["included"] == 12 and out["wss_95"] > 0.5


def test_benchmark_refuses_a_folder_that_is_not_synergy_layout(tmp_path, capsys):
    from livingmeta.cli import main
    assert main(["surveil", "benchmark", str(tmp_path), "--json"]) == 2
    assert "labels.csv" in capsys.readouterr().err


@pytest.mark.parametrize("name", ["Sep_2021", "Nelson_2002"])
def test_shared_synergy_sets_rank_better_than_random_and_never_stop_early(name):
    data = benchmark.load_synergy(shared_path(f"synergy/{name}"))
    out = benchmark.simulate(data)
    assert out["wss_95"] > 0, out                                   # better than screening in random order
    assert out["recall_at_stop"] is None or out["recall_at_stop"] >= 0.95, out
