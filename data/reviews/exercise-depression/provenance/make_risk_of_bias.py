"""One-off addition of the risk-of-bias judgements, supervision and sessions per week in
risk-of-bias.csv (this folder; see SOURCE-README.md) to the trial records in ../trials/.

Kept for provenance: it shows how every judgement in a record's ``risk_of_bias`` block was
carried over. It copies; it guesses nothing:
- a judgement of ``unknown`` (that trial's table could not be read, or its row was cut off) is
  written as ``not_assessed``, which the analysis reports as "not assessed in the sources read",
  never as a risk level;
- support text is copied verbatim (the CSV holds it for three domains; the others get null);
- ``supervised`` yes/no/mixed is copied with its quoted evidence; ``unknown`` becomes null;
- ``sessions_per_week`` is filled only where a record has null and the CSV states a bare
  integer; an existing value is never overwritten, and the known contradiction (Doyne 1987) is
  written into the record's moderator source.
Run from the repository root, after make_trial_records.py:

    .venv/bin/python data/reviews/exercise-depression/provenance/make_risk_of_bias.py
"""

import csv
from pathlib import Path

import yaml

HERE = Path(__file__).parent
TRIALS = HERE.parent / "trials"
DOMAINS = ["sequence_generation", "allocation_concealment", "blinding_participants", "blinding_outcome_assessment",
           "incomplete_outcome_data", "selective_reporting", "other_bias"]
CONTRADICTIONS = {  # listed in SOURCE-README.md; kept visible in the record, not resolved
    "Doyne 1987": ("sessions_per_week", "contradiction: the review's 'Characteristics' table says 4 sessions a week; "
                                        "trial-characteristics.csv says '>=3'"),
    "Knubben 2007": ("coding_note", "contradiction: the review's 'Characteristics' table lists the exercise arm as "
                                    "n = 10; Analysis 1.1 and the abstract: 20"),
}


def trial_id(label: str) -> str:
    import re
    return re.sub(r"[^a-z0-9]+", "-", label.lower()).strip("-")


def judgement(value: str) -> str:
    value = value.strip().lower()
    return "not_assessed" if value == "unknown" else value


def support(row, domain):
    text = row.get(f"support_{domain}")
    return None if text is None or text.strip().lower() in ("", "unknown") else text


def add_note(rec, key, text):
    """Append ``text`` to a moderator source once (re-running the script adds nothing)."""
    old = rec["moderator_sources"].get(key)
    if old is None or text not in old:
        rec["moderator_sources"][key] = f"{old}; {text}" if old else text


def rob_block(row) -> dict:
    urls = row["source_urls"].strip()
    if all(row[d].strip().lower() == "unknown" for d in DOMAINS):
        source = ("not assessed: Cooney 2013's 'Risk of bias' table for this trial could not be read "
                  f"(risk-of-bias.csv); other sources consulted: {urls}")
    else:
        source = f"Cooney 2013 (CD004366.pub6) 'Risk of bias' table of this trial, via risk-of-bias.csv; {urls}"
    return {
        "tool": "rob1",
        "source": source,
        "domains": {d: {"judgement": judgement(row[d]), "support": support(row, d)} for d in DOMAINS},
    }


def main():
    rows = list(csv.DictReader((HERE / "risk-of-bias.csv").open(encoding="utf-8")))
    for row in rows:
        label = row["label"]
        path = TRIALS / f"{trial_id(label)}.yaml"
        text = path.read_text(encoding="utf-8")
        header = "".join(line + "\n" for line in text.splitlines() if line.startswith("#"))
        rec = yaml.safe_load(text)
        rec["risk_of_bias"] = rob_block(row)
        sup = row["supervised"].strip().lower()
        rec["moderators"]["supervised"] = None if sup == "unknown" else sup
        rec["moderator_sources"]["supervised"] = row["supervised_evidence"]
        spw = row["sessions_per_week"].strip()
        note = f"risk-of-bias.csv: {spw!r}"
        if rec["moderators"].get("sessions_per_week") is None and spw.isdigit():
            rec["moderators"]["sessions_per_week"] = int(spw)
            note += " (filled here: the record had null)"
        add_note(rec, "sessions_per_week", note)
        if label in CONTRADICTIONS:
            add_note(rec, *CONTRADICTIONS[label])
        path.write_text(header + yaml.safe_dump(rec, sort_keys=False, allow_unicode=True, width=100), encoding="utf-8")
    print(f"added risk of bias to {len(rows)} trial records in {TRIALS}")


if __name__ == "__main__":
    main()
