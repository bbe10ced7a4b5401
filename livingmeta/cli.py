"""The ``livingmeta`` command line.

    livingmeta analyze EFFECTS.csv [--method REML] [--test z|knha] [--moderators a,b] [--json]
    livingmeta check REVIEW                validate all trial records, list every problem
    livingmeta new-trial REVIEW TRIAL-ID   write a commented template for a new record
    livingmeta import REVIEW SHEET.csv     data-extraction sheet (.csv/.xlsx) -> trial records
    livingmeta update REVIEW               new edition if any input changed (safe from cron)
    livingmeta build [snakemake args]    run the pipeline (same as `make report`)
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

from livingmeta.errors import LivingmetaError

from . import pooling

PROJECT_ROOT = Path(__file__).resolve().parents[1]


class InputError(LivingmetaError):
    """A command-line input (file, column, option) livingmeta cannot use."""


def _read_effects(path: str, moderators: list[str]):
    import pandas as pd
    p = Path(path)
    if not p.is_file():
        raise InputError(f"{path}: file not found")
    try:
        df = pd.read_csv(p)
    except Exception as e:  # pandas raises many kinds for unreadable CSV
        raise InputError(f"{path}: not a readable CSV file ({e.__class__.__name__}: {e})") from None
    missing = [c for c in ["yi", "vi", *moderators] if c not in df.columns]
    if missing:
        raise InputError(f"{path}: missing column(s) {', '.join(missing)}; found {', '.join(map(str, df.columns))}")
    for col in ("yi", "vi"):
        num = pd.to_numeric(df[col], errors="coerce")
        bad = df.index[num.isna()].tolist()
        if bad:
            raise InputError(f"{path}: column {col} has non-numeric or empty cells in data row(s) "
                             f"{', '.join(str(i + 1) for i in bad[:5])}")
        df[col] = num
    bad = df.index[df["vi"] <= 0].tolist()
    if bad:
        raise InputError(f"{path}: column vi must be positive; rows {', '.join(str(i + 1) for i in bad[:5])} are not")
    if len(df) < 2:
        raise InputError(f"{path}: need at least 2 rows (studies), found {len(df)}")
    mods = None
    if moderators:
        mods = df[moderators].copy()
        for m in moderators:
            if mods[m].isna().any():
                raise InputError(f"{path}: moderator column {m} has empty cells; drop those rows or fill them")
            converted = pd.to_numeric(mods[m], errors="coerce")
            if converted.notna().all():
                mods[m] = converted
            else:
                mods[m] = mods[m].astype(str)
    return df, mods


def cmd_analyze(args) -> int:
    mods_list = [m.strip() for m in args.moderators.split(",") if m.strip()] if args.moderators else []
    if args.model and not args.cluster:
        raise InputError(f"--model {args.model} needs --cluster COLUMN (the column naming each effect's trial)")
    df, mods = _read_effects(args.effects, mods_list + ([args.cluster] if args.cluster else []))
    if args.cluster:
        mods = mods.drop(columns=[args.cluster]) if mods_list else None
    study = df["study"].astype(str).tolist() if "study" in df.columns else None
    if args.cluster and args.model == "threelevel":
        from .multilevel import three_level
        out = three_level(df["yi"], df["vi"], df[args.cluster].astype(str), mods=mods).to_dict()
        text = json.dumps(out, indent=2)
    elif args.cluster:
        from .multilevel import robust_univariate
        fit = pooling.rma(df["yi"], df["vi"], mods=mods, method=args.method, test=args.test, study=study)
        rob = robust_univariate(fit, df[args.cluster].astype(str))
        out = {**fit.to_dict(), "robust": rob.to_dict()}
        if fit.int_only:  # estimate, SE, df, CI and prediction interval all from the CR2 inference
            pr = rob.predict()
            out.update(estimate=pr["pred"], se=pr["se"], df=pr["df"], pval=float(rob.pval[0]),
                       ci_lower=pr["ci_lower"], ci_upper=pr["ci_upper"],
                       pi_lower=pr["pi_lower"] if fit.method != "FE" else None,
                       pi_upper=pr["pi_upper"] if fit.method != "FE" else None)
        text = json.dumps(out, indent=2)
    else:
        fit = pooling.rma(df["yi"], df["vi"], mods=mods, method=args.method, test=args.test, study=study)
        out = fit.to_dict()
        text = fit.summary()
    print(json.dumps(out, allow_nan=False, default=float) if args.json else text)
    return 0


def cmd_check(args) -> int:
    from .records import RecordError, load_review
    try:
        review = load_review(_review_dir(args.review))
    except RecordError as e:
        print(e, file=sys.stderr)
        return 1
    for warning in review.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    print(f"{review.id}: {len(review.trials)} trial records, all valid")
    return 0


def _review_dir(review: str) -> Path:
    p = Path(review)
    if (p / "review.yaml").is_file():
        return p
    for base in (Path.cwd() / "data" / "reviews", PROJECT_ROOT / "data" / "reviews"):
        if (base / review / "review.yaml").is_file():
            return base / review
    raise InputError(f"no review {review!r}: give a review id under data/reviews/ or a folder with review.yaml")


def cmd_new_trial(args) -> int:
    from .intake import new_trial_template
    from .records import RecordError
    try:
        path = new_trial_template(_review_dir(args.review), args.trial_id, label=args.label, year=args.year)
    except RecordError as e:
        print(e, file=sys.stderr)
        return 1
    print(f"wrote {path}; fill it in, then run: livingmeta check {args.review}")
    return 0


def cmd_import(args) -> int:
    from .intake import import_sheet
    from .records import RecordError
    try:
        written = import_sheet(_review_dir(args.review), Path(args.sheet), overwrite=args.overwrite)
    except RecordError as e:
        print(e, file=sys.stderr)
        return 1
    print(f"imported {len(written)} trial record(s): " + ", ".join(p.name for p in written))
    return 0


def cmd_update(args) -> int:
    from .editions import run_update
    root = Path(args.root).resolve() if args.root else (Path.cwd() if (Path.cwd() / "Snakefile").is_file() else PROJECT_ROOT)
    return run_update(args.review, project_root=root, config_path=args.configfile,
                      log=lambda m: print(m, file=sys.stderr, flush=True))


def cmd_build(args) -> int:
    cmd = [sys.executable, "-m", "snakemake", "--profile", "workflow/profiles/default", *args.snakemake_args]
    return subprocess.call(cmd, cwd=PROJECT_ROOT)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="livingmeta", description="Living meta-analysis engine and pipeline")
    sub = parser.add_subparsers(dest="command", required=True)
    a = sub.add_parser("analyze", help="meta-analysis of a table with columns yi and vi")
    a.add_argument("effects", help="CSV with columns yi, vi (optional: study, moderators)")
    a.add_argument("--method", default="REML", choices=pooling.TAU2_METHODS)
    a.add_argument("--test", default="z", choices=pooling.TESTS)
    a.add_argument("--moderators", default="", help="comma-separated moderator columns")
    a.add_argument("--cluster", default=None, help="column naming the trial of each effect (dependent effects)")
    a.add_argument("--model", default=None, choices=["threelevel", "robust"],
                   help="with --cluster: three-level REML model, or CR2 cluster-robust inference (default robust)")
    a.add_argument("--json", action="store_true", help="print one JSON object")
    a.set_defaults(func=cmd_analyze)
    c = sub.add_parser("check", help="validate a review's trial records without building")
    c.add_argument("review", help="review folder, e.g. data/reviews/exercise-depression")
    c.set_defaults(func=cmd_check)
    n = sub.add_parser("new-trial", help="write a commented template for a new trial record")
    n.add_argument("review", help="review id (under data/reviews) or folder")
    n.add_argument("trial_id", help="e.g. smith-2024")
    n.add_argument("--label", default=None)
    n.add_argument("--year", type=int, default=None)
    n.set_defaults(func=cmd_new_trial)
    i = sub.add_parser("import", help="turn a data-extraction sheet (.csv/.xlsx) into trial records")
    i.add_argument("review")
    i.add_argument("sheet")
    i.add_argument("--overwrite", action="store_true", help="replace records that already exist")
    i.set_defaults(func=cmd_import)
    u = sub.add_parser("update", help="if any input changed, rebuild and publish a new edition (safe from cron)")
    u.add_argument("review")
    u.add_argument("--root", default=None, help="project folder (default: here if it has a Snakefile)")
    u.add_argument("--configfile", default=None)
    u.set_defaults(func=cmd_update)
    b = sub.add_parser("build", help="build the reports (runs Snakemake)")
    b.add_argument("snakemake_args", nargs=argparse.REMAINDER)
    b.set_defaults(func=cmd_build)
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except (InputError, pooling.ModelError) as e:
        print(f"livingmeta: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
