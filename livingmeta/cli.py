"""The ``livingmeta`` command line.

    livingmeta analyze EFFECTS.csv [--method REML] [--test z|knha] [--moderators a,b] [--json]
    livingmeta check REVIEW                validate all trial records, list every problem
    livingmeta new-trial REVIEW TRIAL-ID   write a commented template for a new record
    livingmeta new-review REVIEW --outcome LABEL --measure SMD --lower-is-better   start a review
    livingmeta import REVIEW SHEET.csv [--update] [--dry-run]   data-extraction sheet (.csv/.xlsx) -> trial records
    livingmeta import REVIEW FILE.rm5|PACKAGE.zip [--sync]   a whole RevMan review -> new review
    livingmeta references REVIEW REFS.ris  citations from RIS/BibTeX -> trial records
    livingmeta update [REVIEW...] [--draft]  new edition if any input changed (safe from cron)
    livingmeta publish REVIEW EDITION --by NAME   publish a draft edition, signed off
    livingmeta fingerprint REVIEW [--explain]     what an edition is named by, and what that covers
    livingmeta build [REVIEW...] [--verbose] [snakemake args]   run the pipeline (same as `make report`)
    livingmeta surveil search|watch|screen|decisions|confirm|counts|benchmark ...   find, screen, count new trials
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from pathlib import Path

from livingmeta.errors import ImportFormatError, LivingmetaError
from livingmeta.formatting import noun_for, plural

from livingmeta.stats import pooling, revman

from livingmeta.paths import INSTALL_ROOT as PROJECT_ROOT


class InputError(LivingmetaError):
    """A command-line input (file, column, option) livingmeta cannot use."""


def _read_csv(path: str):
    """The table at ``path``, or an InputError naming the file and what is wrong with it (including
    a column name given twice: pandas would rename the second ``yi`` to ``yi.1`` and the first
    would be used silently)."""
    import pandas as pd
    if not Path(path).is_file():
        raise InputError(f"{path}: file not found")
    try:
        header = pd.read_csv(path, header=None, nrows=1, dtype=str).iloc[0].tolist()
        df = pd.read_csv(path)
    except Exception as e:  # pandas raises many kinds for unreadable CSV
        raise InputError(f"{path}: not a readable CSV file ({e.__class__.__name__}: {e})") from None
    repeated = sorted({str(c) for c in header if header.count(c) > 1})
    if repeated:
        where = "; ".join(f"{c} in {header.count(c)} columns ("
                          + ", ".join(str(i + 1) for i, h in enumerate(header) if h == c) + ")" for c in repeated)
        raise InputError(f"{path}: a column name appears more than once: {where}; keep one column of each name")
    return df


# The columns of study-level data, in metafor's names, and what each must hold: the checks of
# livingmeta.stats.effects, here naming the file, the column and the row, and the same for every
# method (inverse variance, Mantel-Haenszel, Peto, RevMan's).
STUDY_COLUMNS = {"binary": ["ai", "n1i", "ci", "n2i"], "continuous": ["m1i", "sd1i", "n1i", "m2i", "sd2i", "n2i"],
                 "generic": ["yi", "vi"]}
STUDY_RULES = {
    "binary": [("n1i", lambda d: d["n1i"] >= 1, "a group size of at least 1"),
               ("n2i", lambda d: d["n2i"] >= 1, "a group size of at least 1"),
               ("ai", lambda d: (d["ai"] >= 0) & (d["ai"] <= d["n1i"]), "an event count from 0 to n1i"),
               ("ci", lambda d: (d["ci"] >= 0) & (d["ci"] <= d["n2i"]), "an event count from 0 to n2i")],
    "continuous": [("n1i", lambda d: d["n1i"] >= 2, "a group size of at least 2"),
                   ("n2i", lambda d: d["n2i"] >= 2, "a group size of at least 2"),
                   ("sd1i", lambda d: d["sd1i"] > 0, "a standard deviation above 0"),
                   ("sd2i", lambda d: d["sd2i"] > 0, "a standard deviation above 0")],
    "generic": [("vi", lambda d: d["vi"] > 0, "a positive sampling variance")],
}


def _numeric_columns(path: str, df, columns) -> dict:
    """The ``columns`` of ``df`` as finite float arrays, or an InputError naming the rows."""
    import numpy as np
    import pandas as pd
    data = {}
    for c in columns:
        num = pd.to_numeric(df[c], errors="coerce")
        bad = df.index[~np.isfinite(num.to_numpy(dtype=float))].tolist()
        if bad:
            raise InputError(f"{path}: column {c} has non-numeric, empty or infinite cells in data "
                             f"{noun_for(len(bad), 'row')} {', '.join(str(i + 1) for i in bad[:5])}")
        data[c] = num.to_numpy(dtype=float)
    return data


def _study_data(path: str, df, measure: str) -> tuple[str, dict]:
    """(kind, columns) of the study rows for ``measure``: 2x2 counts, means and SDs, or the
    studies' own yi and vi; every value checked by the same rules whatever the method."""
    kind = "binary" if measure in ("RR", "OR", "RD") else "continuous" if measure in ("MD", "SMD") else None
    if kind is None:
        raise InputError(f"--measure must be one of RR, OR, RD, MD, SMD; got {measure!r}")
    if not all(c in df.columns for c in STUDY_COLUMNS[kind]):
        if not all(c in df.columns for c in STUDY_COLUMNS["generic"]):
            missing = [c for c in STUDY_COLUMNS[kind] if c not in df.columns]
            raise InputError(f"{path}: --measure {measure} needs columns {', '.join(STUDY_COLUMNS[kind])} "
                             f"(or yi, vi); missing {', '.join(missing)}; found {', '.join(map(str, df.columns))}")
        kind = "generic"
    data = _numeric_columns(path, df, STUDY_COLUMNS[kind])
    for column, ok, expected in STUDY_RULES[kind]:
        bad = [i for i, good in enumerate(ok(data)) if not good]
        if bad:
            rows = ", ".join(f"row {i + 1} ({data[column][i]:g})" for i in bad[:5])
            raise InputError(f"{path}: column {column} needs {expected} in every data row; {rows} do(es) not. "
                             "Correct the value, or leave the study out")
    return kind, data


def _effects_from_measure(path: str, df, measure: str):
    """The studies' effects (metafor's escalc conventions) for ``measure``."""
    from livingmeta.stats import effects
    kind, data = _study_data(path, df, measure)
    if kind == "binary":
        return effects.binary_effect(data["ai"], data["n1i"], data["ci"], data["n2i"], measure=measure)
    if kind == "continuous":
        if measure == "SMD":
            return effects.hedges_g(*(data[c] for c in STUDY_COLUMNS["continuous"]))
        return effects.mean_difference(*(data[c] for c in STUDY_COLUMNS["continuous"]))
    return effects.EffectSizes(data["yi"], data["vi"], measure)


def _read_effects(path: str, moderators: list[str], measure: str | None = None):
    """(table, moderators): the effects yi and vi, given or computed from study data for
    ``measure``; every column named in ``moderators`` must exist."""
    df = _read_csv(path)
    missing = [c for c in ([] if measure else ["yi", "vi"]) + moderators if c not in df.columns]
    if missing:
        raise InputError(f"{path}: missing {plural(len(missing), 'column')}: {', '.join(missing)}; "
                         f"found {', '.join(map(str, df.columns))}")
    if measure:
        es = _effects_from_measure(path, df, measure)
        df = df.assign(yi=es.yi, vi=es.vi)
    else:
        df = df.assign(**_numeric_columns(path, df, ["yi", "vi"]))
    bad = df.index[df["vi"] <= 0].tolist()
    if bad:
        raise InputError(f"{path}: column vi must be positive; rows {', '.join(str(i + 1) for i in bad[:5])} are not")
    if len(df) < 2:
        raise InputError(f"{path}: need at least 2 rows (studies), found {len(df)}")
    mods = None
    if moderators:
        import pandas as pd
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
    if not math.isfinite(args.threshold):  # argparse's float() reads inf, nan and 1e400 (inf)
        raise InputError(f"--threshold must be a finite number on the scale of yi, not {args.threshold}")
    mods_list = [m.strip() for m in args.moderators.split(",") if m.strip()] if args.moderators else []
    measure = (args.measure or "").upper() or None
    if args.method in REVMAN_METHODS or args.revman:
        extras = [f"{flag} {value}" if value is not True else flag
                  for flag, value in (("--moderators", args.moderators), ("--cluster", args.cluster),
                                      ("--model", args.model), ("--bayes", args.bayes)) if value]
        if extras:
            how = f"--method {args.method}" + (" --revman" if args.revman else "")
            raise InputError(f"{', '.join(extras)} cannot be combined with {how}: RevMan's methods pool the studies "
                             "as RevMan does, without moderators, clusters or a Bayesian model; use an inverse-variance "
                             "method (e.g. --method REML --measure ...) for those")
        return _analyze_revman(args)
    if args.bayes and (args.moderators or args.cluster):
        raise InputError("--bayes fits the intercept-only model; leave out --moderators and --cluster")
    if args.model and not args.cluster:
        raise InputError(f"--model {args.model} needs --cluster COLUMN (the column naming each effect's trial)")
    df, mods = _read_effects(args.effects, mods_list + ([args.cluster] if args.cluster else []), measure)
    if args.cluster:
        mods = mods.drop(columns=[args.cluster]) if mods_list else None
        clusters = df[args.cluster].astype(str).unique()
        if len(clusters) < 2:
            raise InputError(f"--cluster {args.cluster}: every row is in one cluster ({clusters[0]!r}); cluster-robust "
                             "and three-level models need at least 2 clusters: drop --cluster to treat the effects "
                             "as independent")
    if mods is not None:
        constant = [m for m in mods.columns if mods[m].nunique() < 2]
        for m in constant:
            print(f"warning: moderator {m} has the same value ({mods[m].iloc[0]!r}) in every row; it cannot explain "
                  "any difference and is left out of the model", file=sys.stderr)
        mods = mods.drop(columns=constant) if len(constant) < mods.shape[1] else None
    study = df["study"].astype(str).tolist() if "study" in df.columns else None
    if args.cluster and args.model == "threelevel":
        from livingmeta.stats.multilevel import three_level
        out = three_level(df["yi"], df["vi"], df[args.cluster].astype(str), mods=mods).to_dict()
        text = json.dumps(out, indent=2)
    elif args.cluster:
        from livingmeta.stats.multilevel import robust_univariate
        fit = pooling.rma(df["yi"], df["vi"], mods=mods, method=args.method, test=args.test, study=study)
        rob = robust_univariate(fit, df[args.cluster].astype(str))
        if (rob.df < 4).any():
            print(f"warning: the CR2 test has {min(rob.df):.1f} Satterthwaite degrees of freedom (< 4): with so few "
                  f"clusters ({args.cluster}) its p-values and intervals are unreliable (Tipton 2015)", file=sys.stderr)
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
    if measure:
        out["measure"] = measure
        if measure in ("RR", "OR"):
            text += "\n(ratio measures on the log scale)"
    if args.bayes:
        from livingmeta.stats.bayes import bayes_rma
        bfit = bayes_rma(df["yi"], df["vi"], tau_prior=args.tau_prior, mu_prior=args.mu_prior)
        out["bayes"] = bfit.to_dict(threshold=args.threshold, labels=study)
        b = out["bayes"]
        text += (f"\n\nBayesian random-effects model (tau prior: {b['tau_prior']}; mu prior: {b['mu_prior']}):\n"
                 f"mu median {b['mu_median']:.4f} [{b['mu_ci_lower']:.4f}, {b['mu_ci_upper']:.4f}], "
                 f"tau median {b['tau_median']:.4f} [{b['tau_ci_lower']:.4f}, {b['tau_ci_upper']:.4f}], "
                 f"prediction [{b['pred_ci_lower']:.4f}, {b['pred_ci_upper']:.4f}], "
                 f"P(mu < {b['threshold']:g}) = {b['prob_below_threshold']:.4f}")
    print(json.dumps(out, allow_nan=False, default=float) if args.json else text)
    return 0


REVMAN_METHODS = tuple(revman.REVMAN_METHODS)  # the registry of RevMan's methods, beside pooling.TAU2_METHODS


def _analyze_revman(args) -> int:
    """Study rows in metafor's column names (ai,n1i,ci,n2i / m1i,sd1i,n1i,m2i,sd2i,n2i / yi,vi),
    pooled by livingmeta.stats.revman: MH, MH+DL, Peto, or (--revman) inverse variance FE/DL."""
    import numpy as np

    from livingmeta.files import _jsonable  # NaN (e.g. tau^2's SE under FE) -> null: JSON never carries NaN
    measure = (args.measure or "").upper()
    if not measure:
        raise InputError("--method MH, MH+DL, Peto and --revman need --measure (RR, OR, RD, MD or SMD)")
    method = args.method
    if method == "Peto" and measure != "OR":
        raise InputError("--method Peto gives an odds ratio: use --measure OR")
    if method not in (*REVMAN_METHODS, "FE", "DL"):
        raise InputError(f"--revman pools with MH, MH+DL, Peto, FE or DL (RevMan's methods), not {method}")
    kind, data = _study_data(args.effects, _read_csv(args.effects), measure)
    if method in REVMAN_METHODS and kind != "binary":
        raise InputError(f"--method {method} needs 2x2 counts (columns ai, n1i, ci, n2i) and --measure RR, OR or RD")
    spec = revman.REVMAN_METHODS.get(method)  # else inverse variance: FE, or DL random effects
    stat_method, random = (spec.statistical_method, spec.random) if spec else ("IV", method == "DL")
    if kind == "binary":
        res = revman.dichotomous(data["ai"], data["n1i"], data["ci"], data["n2i"], measure=measure,
                                 method=stat_method, random=random)
    elif kind == "continuous":
        res = revman.continuous(*(data[c] for c in STUDY_COLUMNS["continuous"]), measure=measure, random=random)
    else:
        res = revman.generic(data["yi"], np.sqrt(data["vi"]), measure=measure, random=random)
    out = res.to_dict()
    if res.k == 0:
        raise InputError(f"{args.effects}: no study is estimable (e.g. no events in either group)")
    print(json.dumps(_jsonable(out), allow_nan=False) if args.json else _revman_summary(out))
    return 0


def _revman_summary(out: dict) -> str:
    lines = [f"{out['method']} analysis of {out['measure']} (k = {out['k']} estimable studies"
             + (f"; not estimable: rows {', '.join(str(i + 1) for i in out['not_estimable'])})" if out["not_estimable"] else ")"),
             f"estimate = {out['estimate']:.4f} (SE {out['se']:.4f}), {int(out['level'] * 100)}% CI "
             f"{out['ci_lower']:.4f} to {out['ci_upper']:.4f}, Z = {out['zval']:.4f}, p = {out['pval']:.4g}",
             f"Q(df = {out['QEdf']}) = {out['QE']:.4f}, p = {out['QEp']:.4g}; I^2 = {out['I2']:.2f}%; tau^2 = {out['tau2']:.4f}"]
    if out["measure"] in ("RR", "OR", "PETO_OR"):
        lines.append("(ratio measures on the log scale)")
    return "\n".join(lines)


def cmd_check(args) -> int:
    from livingmeta.pipeline.records import RecordError, load_review
    from livingmeta.pipeline.reviews import awaits_import, import_hint
    root = _review_dir(args.review)
    if awaits_import(root):  # settings shipped without data (a third-party database): nothing to check yet
        print(import_hint(root), file=sys.stderr)
        return 1
    try:
        review = load_review(root)
    except RecordError as e:
        if [(p.file, p.field) for p in e.problems] == [(str(root / "trials"), "(folder)")]:  # a review just started
            template = root / "sheet-template.csv"
            print(f"{root.name}: review.yaml valid; no trial records yet: "
                  + (f"fill {template} and run livingmeta import {args.review} {template}" if template.is_file()
                     else f"add them with livingmeta import {args.review} SHEET or livingmeta new-trial"))
            return 0
        print(e, file=sys.stderr)
        return 1
    for warning in review.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    from livingmeta.surveillance.command import ledger_problems  # the ledger's counts and drafts pass too
    problems = ledger_problems(review.root, review.definition, len(review.trials))
    if problems:
        print("\n".join(problems), file=sys.stderr)
        return 1
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
    from livingmeta.pipeline.intake import new_trial_template
    from livingmeta.pipeline.records import RecordError
    try:
        path = new_trial_template(_review_dir(args.review), args.trial_id, label=args.label, year=args.year)
    except RecordError as e:
        print(e, file=sys.stderr)
        return 1
    print(f"wrote {path}; fill it in, then run: livingmeta check {args.review}")
    return 0


def cmd_import(args) -> int:
    from livingmeta.living.importers import detect_format
    from livingmeta.living.importers.metapsy import import_metapsy, is_metapsy_folder
    from livingmeta.pipeline.intake import import_sheet
    from livingmeta.pipeline.records import RecordError
    if is_metapsy_folder(args.sheet):  # matches studies across releases on --sync (see importers/metapsy.py)
        target = _new_review_dir(args.review)
        try:
            report = import_metapsy(target, Path(args.sheet), sync=args.sync)
        except RecordError as e:  # exit 1: records with problems (as check)
            print(f"livingmeta import: {e}", file=sys.stderr)
            return 1
        except ImportFormatError as e:  # exit 2: a source or target the command cannot use (README)
            print(f"livingmeta import: {e}", file=sys.stderr)
            return 2
        for line in report.lines():
            print(line)
        print(f"{target}: {len(report.added)} added, {len(report.changed)} changed, {len(report.removed)} removed, "
              f"{report.unchanged} unchanged; {plural(len(report.refused), 'data row')} refused (listed above)")
        return 0
    if detect_format(args.sheet) != "sheet":
        return _import_whole_review(args)
    if args.sync:
        print(f"livingmeta import: --sync applies to whole-review formats (.rm5, RevMan Web .zip, a Metapsy folder); "
              f"{args.sheet} is a sheet: use --update", file=sys.stderr)
        return 2
    notes: list[str] = []
    try:
        result = import_sheet(_sheet_review_dir(args.review), Path(args.sheet), update=args.update,
                              dry_run=args.dry_run, notes=notes)
    except RecordError as e:
        print(e, file=sys.stderr)
        return 1
    finally:
        for note in notes:
            print(f"warning: {note}", file=sys.stderr)
    print("\n".join(result.lines()))
    return 0


def _sheet_review_dir(review: str) -> Path:
    """The review a sheet is imported into; a review that does not exist yet says how to start one."""
    try:
        return _review_dir(review)
    except InputError:
        raise InputError(f"no review {review!r} (no data/reviews/{review}/review.yaml); start one with: livingmeta "
                         f"new-review {review} --outcome LABEL --measure SMD|MD|RR|OR|RD --lower-is-better (or "
                         "--higher-is-better), then import the sheet") from None


def _new_review_dir(review: str) -> Path:
    """A whole-review import goes to REVIEW if it is a path, else to data/reviews/REVIEW here."""
    p = Path(review)
    if len(p.parts) > 1 or p.is_absolute() or (p / "review.yaml").is_file():
        return p
    return Path.cwd() / "data" / "reviews" / review


def _import_whole_review(args) -> int:
    from livingmeta.living.importers import detect_format, read_whole_review
    from livingmeta.living.importers.review_writer import write_review
    from livingmeta.pipeline.records import RecordError, load_review
    fmt = detect_format(args.sheet)
    target = _new_review_dir(args.review)
    try:
        imported = read_whole_review(args.sheet, fmt)
        changes = write_review(target, imported, sync=args.sync)
    except RecordError as e:
        print(e, file=sys.stderr)
        return 1
    for w in imported.warnings:
        print(f"warning: {w}", file=sys.stderr)
    print("\n".join(changes.describe()))
    if fmt in ("rm5", "revman-web"):
        from livingmeta.pipeline.revman_reproduction import console_table, disagreements, reproduce
        review = load_review(target)
        try:
            table = reproduce(review.definition, review.trials)
        except LivingmetaError as e:
            print(f"WARNING: the imported analyses could not be recomputed to check RevMan's totals: {e}", file=sys.stderr)
            return 0
        print("Reproduction of RevMan's stored totals (ours vs RevMan's):")
        print("\n".join(console_table(table)))
        bad = disagreements(table)
        if bad:
            print("\n" + "!" * 78 + f"\nWARNING: {plural(len(bad), 'RevMan total')} NOT reproduced beyond rounding:",
                  file=sys.stderr)
            for line in bad:
                print(f"  {line}", file=sys.stderr)
            print("!" * 78, file=sys.stderr)
    return 0


def cmd_references(args) -> int:
    from livingmeta.pipeline.record_writer import change_lines
    from livingmeta.pipeline.records import RecordError
    from livingmeta.report.references import import_references
    try:
        out = import_references(_review_dir(args.review), args.file)
    except RecordError as e:  # exit 1: the citations would make records that `check` refuses
        print(e, file=sys.stderr)
        return 1
    for line in out["warnings"]:
        print(f"warning: {line}", file=sys.stderr)
    for line in change_lines(out["changed"]):
        print(line)
    print(f"references matched to {len(out['matched'])} trial records: {len(out['changed'])} updated, "
          f"{len(out['matched']) - len(out['changed'])} unchanged")
    for entry in out["unmatched"]:
        print(f"no trial matches reference {entry} (match by key = trial id, or first author and year)", file=sys.stderr)
    return 0 if not out["unmatched"] and not out["warnings"] else 1  # 1: some references were not used


def cmd_new_review(args) -> int:
    from livingmeta.pipeline.new_review import new_review
    if not (args.outcome and args.measure and args.direction):
        missing = [flag for flag, given in (("--outcome LABEL", args.outcome), ("--measure SMD|MD|RR|OR|RD", args.measure),
                                            ("--lower-is-better or --higher-is-better", args.direction)) if not given]
        raise InputError(f"new-review needs {', '.join(missing)} (what the review measures, and which way is better); "
                         f"e.g. livingmeta new-review {args.review} --outcome 'Pain' --measure SMD --lower-is-better")
    made = new_review(_new_review_dir(args.review), title=args.title, question=args.question,
                      intervention=args.intervention, control=args.control, outcome=args.outcome,
                      measure=args.measure, direction=args.direction, timepoint=args.timepoint, rob_tool=args.rob)
    print("\n".join(made.lines()))
    return 0


def _project_root(root=None) -> Path:
    return Path(root).resolve() if root else (Path.cwd() if (Path.cwd() / "Snakefile").is_file() else PROJECT_ROOT)


def _check_epoch() -> None:
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    if epoch is not None and not epoch.strip().isdigit():
        raise InputError(f"SOURCE_DATE_EPOCH={epoch!r} is not a number of seconds since 1970-01-01 UTC; "
                         "set it to e.g. $(date -u +%s) or unset it")


def _stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def cmd_update(args) -> int:
    from livingmeta.pipeline.config_check import load_config
    from livingmeta.living.update import run_updates
    root = _project_root(args.root)
    _check_epoch()
    load_config(args.configfile or root / "config" / "config.yaml", root)  # one clear line for a bad configuration
    return run_updates(args.reviews, project_root=root, config_path=args.configfile, draft=args.draft,
                       verbose=args.verbose, log=_stderr)


def cmd_publish(args) -> int:
    from livingmeta.living.update import run_publish
    return run_publish(args.review, args.edition, args.by, project_root=_project_root(args.root),
                       config_path=args.configfile, verbose=args.verbose, log=_stderr)


def cmd_fingerprint(args) -> int:
    from livingmeta.living.fingerprint import describe
    from livingmeta.living.update import review_run
    run = review_run(args.review, _project_root(args.root), args.configfile)
    print("\n".join(describe(run.review_dir, run.config_path, run.project_root, run.results_dir, explain=args.explain)))
    return 0


def cmd_surveil(args) -> int:
    from livingmeta.surveillance import command
    return command.main(args, _review_dir)


def cmd_build(args) -> int:
    from livingmeta.living.runlock import run_build
    return run_build(_project_root(), args.snakemake_args, log=_stderr)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="livingmeta", description="Living meta-analysis engine and pipeline")
    parser.add_argument("--version", action="version", version=f"livingmeta {_version()}")
    sub = parser.add_subparsers(dest="command", required=True)
    a = sub.add_parser("analyze", help="meta-analysis of a table with columns yi and vi")
    a.add_argument("effects", help="CSV with columns yi, vi (optional: study, moderators)")
    a.add_argument("--method", default="REML", choices=(*pooling.TAU2_METHODS, *REVMAN_METHODS),
                   help="tau^2 estimator, or MH (Mantel-Haenszel), MH+DL (RevMan's random effects for MH data), Peto")
    a.add_argument("--measure", default=None, choices=["RR", "OR", "RD", "MD", "SMD"],
                   help="effect measure computed from study rows (ai,n1i,ci,n2i or m1i,sd1i,n1i,m2i,sd2i,n2i)")
    a.add_argument("--revman", action="store_true",
                   help="RevMan 5's conventions: Hedges' adjusted g, zero cells, not-estimable studies")
    a.add_argument("--test", default="z", choices=pooling.TESTS)
    a.add_argument("--moderators", default="", help="comma-separated moderator columns")
    a.add_argument("--cluster", default=None, help="column naming the trial of each effect (dependent effects)")
    a.add_argument("--model", default=None, choices=["threelevel", "robust"],
                   help="with --cluster: three-level REML model, or CR2 cluster-robust inference (default robust)")
    a.add_argument("--bayes", action="store_true", help="add a Bayesian random-effects fit (bayesmeta-style)")
    a.add_argument("--tau-prior", default="half-normal:0.5",
                   help="with --bayes: half-normal:SCALE, half-cauchy:SCALE, uniform, turner:..., rhodes[:...]")
    a.add_argument("--mu-prior", default="uniform", help="with --bayes: uniform or normal:MEAN,SD")
    a.add_argument("--threshold", type=float, default=0.0, help="with --bayes: report P(mu < X), X on the scale of yi (log for ratios; default 0)")
    a.add_argument("--json", action="store_true", help="print one JSON object")
    a.set_defaults(func=cmd_analyze)
    c = sub.add_parser("check", help="validate a review's trial records without building")
    c.add_argument("review", help="review folder, e.g. data/reviews/<review-id>")
    c.set_defaults(func=cmd_check)
    n = sub.add_parser("new-trial", help="write a commented template for a new trial record")
    n.add_argument("review", help="review id (under data/reviews) or folder")
    n.add_argument("trial_id", help="e.g. smith-2024")
    n.add_argument("--label", default=None)
    n.add_argument("--year", type=int, default=None)
    n.set_defaults(func=cmd_new_trial)
    i = sub.add_parser("import", help="import a RevMan 5 file (.rm5), a RevMan Web data package (.zip), a Metapsy "
                                      "database (folder) as a new review, or a sheet (.csv/.xlsx) into a review")
    i.add_argument("review")
    i.add_argument("sheet", metavar="path")
    i.add_argument("--update", "--overwrite", dest="update", action="store_true",
                   help="sheets: merge the sheet into records that exist (fields it does not carry are kept; each "
                        "change is listed); --overwrite is the old name")
    i.add_argument("--dry-run", action="store_true", help="sheets: list what would be added and changed, write nothing")
    i.add_argument("--sync", action="store_true", help="whole-review formats: make an existing review equal to the "
                                                        "source (trials added, changed and removed are listed)")
    i.set_defaults(func=cmd_import)
    nr = sub.add_parser("new-review", help="start a review: review.yaml, an empty trials/ and an import sheet template")
    nr.add_argument("review", help="review id (written under data/reviews/) or a folder")
    nr.add_argument("--title", default=None, help="the review's title (default: from the id)")
    nr.add_argument("--question", default=None, help="the review question (default: made from the arms and outcome)")
    nr.add_argument("--intervention", default=None, help="what the intervention arm receives, as readers know it")
    nr.add_argument("--control", default=None, help="what the control arm receives, e.g. usual care")
    nr.add_argument("--outcome", default=None, metavar="LABEL", help="the primary outcome, e.g. 'Pain at rest'")
    nr.add_argument("--measure", default=None, choices=["SMD", "MD", "RR", "OR", "RD"],
                    help="effect measure: SMD or MD (continuous outcome), RR, OR or RD (binary)")
    direction = nr.add_mutually_exclusive_group()
    direction.add_argument("--lower-is-better", dest="direction", action="store_const", const="lower_is_better",
                           help="lower values (scores, event rates) are better for patients")
    direction.add_argument("--higher-is-better", dest="direction", action="store_const", const="higher_is_better",
                           help="higher values (scores, rates of response) are better for patients")
    nr.add_argument("--timepoint", default="end of treatment", metavar="LABEL",
                    help="when the outcome is measured (default: end of treatment)")
    nr.add_argument("--rob", default="rob2", choices=["rob1", "rob2", "none"],
                    help="risk-of-bias columns of the sheet template: RoB 2 (default), RoB 1 or none")
    nr.set_defaults(func=cmd_new_review)
    r = sub.add_parser("references", help="write citations from a RIS or BibTeX file into the trial records")
    r.add_argument("review")
    r.add_argument("file", help="a .ris or .bib file")
    r.set_defaults(func=cmd_references)
    u = sub.add_parser("update", help="if any input changed, rebuild and publish a new edition (safe from cron)")
    u.add_argument("reviews", nargs="*", metavar="review", help="default: every review in the configuration")
    u.add_argument("--draft", action="store_true", help="archive the new edition as a draft for sign-off: publish "
                                                         "and mail nothing (see `livingmeta publish`)")
    p = sub.add_parser("publish", help="publish a draft edition, recording who signed it off")
    p.add_argument("review")
    p.add_argument("edition", help="the draft's name, e.g. 2026-12-04-1a2b3c4d (printed by update --draft)")
    p.add_argument("--by", required=True, metavar="NAME", help="who signs the edition off")
    f = sub.add_parser("fingerprint", help="the review's input fingerprint, compared with its latest edition")
    f.add_argument("review")
    f.add_argument("--explain", action="store_true", help="list what each part covers and what it leaves out")
    for command, func in ((u, cmd_update), (p, cmd_publish), (f, cmd_fingerprint)):
        command.add_argument("--root", default=None, help="project folder (default: here if it has a Snakefile)")
        command.add_argument("--configfile", default=None)
        if command is not f:
            command.add_argument("--verbose", action="store_true", help="show Snakemake's job listing")
        command.set_defaults(func=func)
    from livingmeta.surveillance.command import add_arguments as surveil_arguments
    sv = sub.add_parser("surveil", help="surveillance: search sources, watch registries, rank screening, count")
    surveil_arguments(sv)
    sv.set_defaults(func=cmd_surveil)
    b = sub.add_parser("build", help="build the reports of the named reviews, or of every review in the "
                                     "configuration (runs Snakemake; --verbose shows its job listing)")
    b.add_argument("snakemake_args", nargs=argparse.REMAINDER)
    b.set_defaults(func=cmd_build)
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["build"] and argv[1:2] not in (["-h"], ["--help"]):
        # everything after `build` is Snakemake's, options included (argparse would claim them)
        args = argparse.Namespace(func=cmd_build, snakemake_args=argv[1:])
    else:
        args = parser.parse_args(argv)
    try:
        return args.func(args)
    except LivingmetaError as e:  # every deliberate refusal: one message, no traceback
        print(f"livingmeta: error: {e}", file=sys.stderr)
        return 2
    except OSError as e:  # read-only folder (errno 30), full disk (28), permissions: say which file
        print(f"livingmeta: error: {_os_error_line(e)}", file=sys.stderr)
        return 2


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version
    try:
        return version("livingmeta")
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "unknown (not installed)"


def _os_error_line(e: OSError) -> str:
    import errno
    fix = {errno.ENOSPC: "free some space and run again", errno.EROFS: "make the folder writable or choose another",
           errno.EACCES: "check the folder's permissions", errno.EDQUOT: "free some space and run again"}
    where = f"{e.filename}: " if e.filename else ""
    hint = fix.get(e.errno, "check the file and run again")
    return f"{where}{e.strerror or e} (errno {e.errno}); {hint}"


if __name__ == "__main__":
    sys.exit(main())
