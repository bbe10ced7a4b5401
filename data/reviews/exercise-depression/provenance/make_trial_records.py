"""One-off conversion of the Cochrane CD004366 extraction tables (this folder) into livingmeta
trial records (../trials/<trial-id>.yaml).

Kept for provenance: it shows exactly how every number in a trial record was carried over. It
copies values; it computes, imputes and rounds nothing. Run from the repository root:

    .venv/bin/python data/reviews/exercise-depression/provenance/make_trial_records.py

Re-running overwrites the records, so corrections belong in the records themselves once the
review is live (see README).
"""

import re
from pathlib import Path

import pandas as pd
import yaml

HERE = Path(__file__).parent
TRIALS = HERE.parent / "trials"


def trial_id(label: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", label.lower()).strip("-")


def clean(value):
    """pandas NaN and the extraction's 'unknown' -> None (not reported); numpy scalars -> Python."""
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return None
    if isinstance(value, str) and value.strip().lower() in ("unknown", "none found"):
        return None
    if hasattr(value, "item"):
        return value.item()
    return value


def plain_int(text):
    """A count stated as a bare integer, else None (free text such as '3 or 5' is not a number)."""
    text = str(text).strip()
    return int(text) if text.isdigit() else None


def continuous_block(row, timepoint):
    return {
        "timepoint": timepoint,
        "source": row["source"],
        "arms": {
            "exercise": {"n": int(row["n_exercise"]), "mean": float(row["mean_exercise"]), "sd": float(row["sd_exercise"])},
            "control": {"n": int(row["n_control"]), "mean": float(row["mean_control"]), "sd": float(row["sd_control"])},
        },
        "published": {
            "smd": float(row["published_smd"]), "ci_lower": float(row["published_ci_lower"]),
            "ci_upper": float(row["published_ci_upper"]), "weight_pct": float(row["published_weight_pct"]),
            "source": row["source"],
        },
    }


def main():
    post = pd.read_csv(HERE / "analysis-1.1-post-treatment.csv").set_index("label")
    follow = pd.read_csv(HERE / "analysis-1.2-follow-up.csv").set_index("label")
    compl = pd.read_csv(HERE / "analysis-1.3-completion.csv").set_index("label")
    chars = pd.read_csv(HERE / "trial-characteristics.csv", dtype=str).set_index("label")
    TRIALS.mkdir(exist_ok=True)
    for label in post.index:
        c = chars.loc[label]
        year = int(re.search(r"(\d{4})", label).group(1))
        weeks = clean(c["weeks"])
        record = {
            "id": trial_id(label),
            "label": label,
            "year": year,
            "year_source": "year in the trial label printed by Cooney 2013 (CD004366.pub6)",
            "citation": {
                "first_author": clean(c["src_first_author"]), "year_as_found": c["src_year"], "title": clean(c["src_title"]),
                "journal": clean(c["src_journal"]), "detail": clean(c["src_citation_detail"]), "identifier": clean(c["src_pmid_or_doi"]),
                "source_urls": [u.strip() for u in str(c["src_source_urls"]).split(" ; ")
                            if u.strip() and clean(u.strip()) is not None],
            },
            "arms": {
                "exercise": {"role": "intervention", "description": clean(c["src_arms"])},
                "control": {"role": "control", "description": "control arm as analysed by Cooney 2013"},
            },
            "moderators": {
                "exercise_type": clean(c["exercise_type"]),
                "population": clean(c["population"]),
                "older_adults": clean(c["older_adults"]),
                "weeks": float(weeks) if weeks is not None else None,
                "sessions_per_week": plain_int(c["src_sessions_per_week"]),
            },
            "moderator_sources": {
                "exercise_type": c["src_exercise_type_evidence"],
                "population": c["src_population_evidence"],
                "older_adults": c["src_age_group"],
                "weeks": c["src_weeks"],
                "sessions_per_week": c["src_sessions_per_week"],
                "outcome_measure": c["src_measure"],
                "coding_note": clean(c["coding_note"]),
                "coded_by": "livingmeta default-review extraction (trial-characteristics.csv, see provenance/SOURCE-README.md)",
            },
            "outcomes": {"depression": [continuous_block(post.loc[label], "post_treatment")]},
        }
        if label in follow.index:
            record["outcomes"]["depression"].append(continuous_block(follow.loc[label], "follow_up"))
        if label in compl.index:
            r = compl.loc[label]
            record["outcomes"]["completion"] = [{
                "timepoint": "end_of_intervention",
                "source": r["source"],
                "arms": {
                    "exercise": {"events": int(r["completed_exercise"]), "total": int(r["randomised_exercise"])},
                    "control": {"events": int(r["completed_control"]), "total": int(r["randomised_control"])},
                },
            }]
        header = (f"# Trial record: {label}. Numbers copied from Cooney et al. 2013 (Cochrane CD004366.pub6);\n"
                  f"# each outcome block names its table and page. Null = not reported in any source read.\n")
        path = TRIALS / f"{record['id']}.yaml"
        path.write_text(header + yaml.safe_dump(record, sort_keys=False, allow_unicode=True, width=100))
    print(f"wrote {len(post)} trial records to {TRIALS}")


if __name__ == "__main__":
    main()
