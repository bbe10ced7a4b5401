"""Surveillance (livingmeta.surveillance): the three sources through their HTTP seam on hand-written
SYNTHETIC answers in each API's documented layout (tests/fixtures/surveillance/), the ledger,
deduplication, the registry watch and its draft records, PRISMA counts from the ledger, and that
nothing secret is ever written. The network is blocked for the whole suite (conftest.no_network)."""

from __future__ import annotations

import hashlib
import json
import math
import socket
import urllib.parse
from datetime import date
from pathlib import Path

import pytest
import yaml

from livingmeta.surveillance import flow, http, ledger, sources
from livingmeta.surveillance.http import Client, Response, SourceError
from livingmeta.surveillance.search import run_search, run_watch

FIX = Path(__file__).parent / "fixtures" / "surveillance"
EPMC_CURSORS = {"*": "search_1.json", "AoIIP4AAACgzOTAwMDAwMg==": "search_2.json"}
JAN = (date(2024, 1, 1), date(2024, 1, 31))


class FakeAPI:
    """Stands in for the network at livingmeta.surveillance.http.send: answers from the fixtures
    by path and paging parameter, records every URL, and can answer given statuses first."""

    def __init__(self):
        self.calls: list[str] = []
        self.fail: dict[str, list[int]] = {}      # URL part -> statuses to answer before the fixture
        self.override: dict[str, bytes] = {}      # URL part -> body to answer instead

    def __call__(self, url, headers, timeout=60.0):
        self.calls.append(url)
        for part, statuses in self.fail.items():
            if part in url and statuses:
                return Response(statuses.pop(0), b"Too Many Requests", {"retry-after": "0"} if statuses else {})
        for part, body in self.override.items():
            if part in url:
                return Response(200, body)
        parts = urllib.parse.urlsplit(url)
        q = dict(urllib.parse.parse_qsl(parts.query))
        path = parts.path
        if path.endswith("einfo.fcgi"):
            name = "pubmed/einfo.json"
        elif path.endswith("esearch.fcgi"):
            name = f"pubmed/esearch_{q['retstart']}.json"
        elif path.endswith("efetch.fcgi"):
            name = "pubmed/efetch_1.xml" if "39000001" in q["id"].split(",") else "pubmed/efetch_2.xml"
        elif path.endswith("/api/v2/version"):
            name = "clinicaltrials_gov/version.json"
        elif path.endswith("/api/v2/studies"):
            name = "clinicaltrials_gov/studies_2.json" if q.get("pageToken") else "clinicaltrials_gov/studies_1.json"
        elif "/api/v2/studies/NCT" in path:
            return Response(200, json.dumps(study(path.rsplit("/", 1)[1])).encode())
        elif path.endswith("/rest/search"):
            name = "europepmc/" + EPMC_CURSORS.get(q["cursorMark"], "search_3.json")
        else:
            return Response(404, b"not found")
        return Response(200, (FIX / name).read_bytes())

    def count(self, part: str) -> int:
        return sum(part in c for c in self.calls)


def study(nct: str) -> dict:
    for page in ("studies_1.json", "studies_2.json"):
        for s in json.loads((FIX / "clinicaltrials_gov" / page).read_text())["studies"]:
            if s["protocolSection"]["identificationModule"]["nctId"] == nct:
                return s
    raise KeyError(nct)


@pytest.fixture
def api(monkeypatch):
    fake = FakeAPI()
    monkeypatch.setattr(http, "send", fake)
    monkeypatch.setattr(sources, "PUBMED_PAGE", 2)
    monkeypatch.setattr(sources, "PUBMED_BATCH", 2)
    monkeypatch.setattr(sources, "EPMC_PAGE", 2)
    monkeypatch.setattr(sources, "CTGOV_PAGE", 2)
    monkeypatch.setattr(http.time, "sleep", lambda s: fake.calls.append(f"sleep {s}"))
    return fake


def client(name="PubMed", **kw):
    waits = []
    c = Client(name, sleep=waits.append, clock=lambda: 0.0, **kw)
    c.waits = waits
    return c


SEARCHES = """# SYNTHETIC test strategy
schedule: monthly
start: 2024-01-01
sources:
  pubmed: {query: "exercise AND depress*", max_records: 100}
  europepmc: {query: "exercise AND depression"}
  clinicaltrials_gov: {cond: depression, intr: exercise}
"""
BASELINE = {"label": "Searches of the original review (SYNTHETIC)", "date": "2013-01-01", "source": "test",
            "identified": {"databases": 1000}, "duplicates_removed": 100, "records_screened": 900,
            "studies_included_total": 35}


@pytest.fixture
def review(review_copy):
    """The default review (35 trials) with a baseline PRISMA entry and a surveillance strategy."""
    path = review_copy / "review.yaml"
    definition = yaml.safe_load(path.read_text())
    definition["search_flow"] = [BASELINE]
    path.write_text(yaml.safe_dump(definition, sort_keys=False))
    (review_copy / "surveillance").mkdir()
    (review_copy / "surveillance" / "searches.yaml").write_text(SEARCHES)
    return review_copy


def snapshot(folder: Path) -> dict:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


# --- sources ----------------------------------------------------------------------------------

def test_pubmed_pages_esearch_and_fetches_in_batches(api):
    res = sources.search_pubmed(client(), {"query": "exercise AND depress*"}, *JAN)
    assert res.count == 3 and [c["id"] for c in res.candidates] == ["pmid:39000001", "pmid:39000002", "pmid:39000003"]
    assert api.count("retstart=0") == 1 and api.count("retstart=2") == 1
    fetches = [urllib.parse.parse_qs(urllib.parse.urlsplit(c).query)["id"][0] for c in api.calls if "efetch" in c]
    assert fetches == ["39000001,39000002", "39000003"]
    esearch = urllib.parse.parse_qs(urllib.parse.urlsplit(next(c for c in api.calls if "esearch" in c)).query)
    assert esearch["datetype"] == ["edat"] and esearch["mindate"] == ["2024/01/01"] and esearch["tool"] == ["livingmeta"]
    assert res.data_timestamp == "2024/02/01 04:21"
    first = res.candidates[0]
    assert first["abstract"].startswith("BACKGROUND: Exercise may reduce") and "METHODS: Adults" in first["abstract"]
    assert first["doi"] == "10.5555/synth.2024.001" and first["registry_ids"] == "NCT09000001"
    assert first["rct"] == "yes" and res.candidates[1]["rct"] == "no"
    assert "RetractionIn: PMID 39000099" in first["corrections"] and "Retracted Publication" in first["publication_types"]
    assert first["entry_date"] == "2024-01-10" and first["first_author"] == "Example"


def test_ctgov_pages_with_page_tokens_and_reads_results(api):
    res = sources.search_ctgov(client("ClinicalTrials.gov"), {"cond": "depression", "intr": "exercise"}, *JAN)
    assert res.count == 3 and [c["id"] for c in res.candidates] == ["ctgov:NCT09000001", "ctgov:NCT09000002",
                                                                     "ctgov:NCT09000003"]
    assert api.count("pageToken=NF0g5JGBlQ") == 1
    q = urllib.parse.parse_qs(urllib.parse.urlsplit(next(c for c in api.calls if c.endswith("true") or "query.cond" in c)).query)
    assert q["filter.advanced"] == ["AREA[LastUpdatePostDate]RANGE[2024-01-01,2024-01-31]"] and q["query.cond"] == ["depression"]
    assert res.data_timestamp == "2024-02-01T09:15:42"
    state = sources.registry_state(res.studies[0])
    assert state["results_posted"] == "2024-01-18" and state["linked_pmids"] == "39000001" and state["enrollment"] == "82"
    assert res.candidates[1]["status"] == "RECRUITING" and res.candidates[1]["rct"] == "yes"


def test_europepmc_follows_the_cursor_and_keeps_preprints(api):
    res = sources.search_europepmc(client("Europe PMC"), {"query": "exercise AND depression"}, *JAN)
    assert res.count == 3 and len(res.candidates) == 3
    assert "CREATION_DATE:[2024-01-01 TO 2024-01-31]" in urllib.parse.unquote_plus(api.calls[0])
    pre = next(c for c in res.candidates if c["id"] == "epmc:PPR:PPR800001")
    assert pre["kind"] == "preprint" and pre["publication_types"] == "Preprint" and pre["journal"] == "preprint"
    agr = next(c for c in res.candidates if c["id"] == "epmc:AGR:AGR500001")
    assert agr["corrections"] == "Erratum in: MED 39000098"


def test_a_429_then_success_is_retried_with_backoff(api):
    api.fail["esearch.fcgi"] = [429, 503]
    c = client()
    res = sources.search_pubmed(c, {"query": "q"}, *JAN)
    assert res.count == 3 and api.count("esearch.fcgi") == 4   # 429, 503, then the two pages
    assert c.waits[:2] == [1.0, 2.0] or 0.0 in c.waits[:2]     # backoff (or the server's Retry-After)


def test_retries_give_up_with_the_source_and_url_but_no_secret(api, monkeypatch):
    monkeypatch.setenv(http.ENV_API_KEY, "SECRETKEY0123456789")
    api.fail["einfo.fcgi"] = [503] * 10
    with pytest.raises(SourceError) as err:
        sources.search_pubmed(client(retries=2), {"query": "q"}, *JAN)
    msg = str(err.value)
    assert msg.startswith("PubMed: https://eutils.ncbi.nlm.nih.gov/entrez/eutils/einfo.fcgi") and "3 attempts" in msg
    assert "SECRETKEY" not in msg and "api_key" in api.calls[0]


def test_a_malformed_body_names_source_and_url(api):
    api.override["/rest/search"] = b"<html><body>Service temporarily unavailable</body></html>"
    with pytest.raises(SourceError) as err:
        sources.search_europepmc(client("Europe PMC"), {"query": "q"}, *JAN)
    assert str(err.value).startswith("Europe PMC: https://www.ebi.ac.uk/europepmc/webservices/rest/search?")
    assert "not valid JSON" in str(err.value)
    api.override = {"efetch.fcgi": b"<PubmedArticleSet><PubmedArticle>"}
    with pytest.raises(SourceError) as err:
        sources.search_pubmed(client(), {"query": "q"}, *JAN)
    assert "efetch.fcgi" in str(err.value) and "not well-formed XML" in str(err.value)


def test_xml_entities_are_never_expanded(api):
    api.override = {"efetch.fcgi": b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaaaaaaaa">]>'
                                   b"<PubmedArticleSet>&a;</PubmedArticleSet>"}
    with pytest.raises(SourceError):
        sources.search_pubmed(client(), {"query": "q"}, *JAN)


def test_the_cap_stops_before_fetching_and_names_the_query(api, review):
    (review / "surveillance" / "searches.yaml").write_text(SEARCHES.replace("max_records: 100", "max_records: 2"))
    before = snapshot(review)
    with pytest.raises(sources.CapError) as err:
        run_search(review, JAN[1], clients=_clients())
    assert "'exercise AND depress*'" in str(err.value) and "3 records" in str(err.value) and "cap of 2" in str(err.value)
    assert api.count("efetch") == 0 and snapshot(review) == before


def _clients():
    return {name: Client(label, sleep=lambda s: None, clock=lambda: 0.0)
            for name, label in sources.NAMES.items()}


def test_pacing_waits_between_requests():
    waits, now = [], [0.0]
    c = Client("PubMed", rate=3.0, sleep=waits.append, clock=lambda: now[0])
    c._pace()
    c._pace()
    assert waits == [pytest.approx(1 / 3)]


def test_the_suite_blocks_the_network():
    with pytest.raises(OSError, match="network access blocked"):
        socket.create_connection(("93.184.215.14", 80), timeout=1)


# --- the ledger --------------------------------------------------------------------------------

def test_search_writes_the_ledger_and_a_rerun_is_byte_identical(api, review):
    out = run_search(review, JAN[1], clients=_clients())
    root = review / "surveillance"
    assert {"candidates.csv", "registry.csv", "runs/2024-01-31-pubmed.yaml", "runs/2024-01-31-europepmc.yaml",
            "runs/2024-01-31-clinicaltrials_gov.yaml"} <= set(out.written)
    run = yaml.safe_load((root / "runs" / "2024-01-31-pubmed.yaml").read_text())
    assert run["window"] == {"since": "2024-01-01", "until": "2024-01-31", "date_field": "Entrez date (edat)"}
    assert run["count"] == 3 and run["data_timestamp"] == "2024/02/01 04:21" and run["records"][0] == "pmid:39000001"
    first = snapshot(review)
    calls = len(api.calls)
    again = run_search(review, JAN[1], clients=_clients())
    assert len(api.calls) == calls and again.written == [] and len(again.skipped) == 3
    assert snapshot(review) == first
    forced = run_search(review, JAN[1], since=JAN[0], again=True, clients=_clients())
    assert len(api.calls) > calls and forced.written == []
    assert snapshot(review) == first


def test_no_secret_or_address_in_any_written_file(api, review, monkeypatch):
    monkeypatch.setenv(http.ENV_API_KEY, "SECRETKEY0123456789")
    monkeypatch.setenv(http.ENV_EMAIL, "reviewer@example.org")
    run_search(review, JAN[1], clients=_clients())
    assert any("api_key=SECRETKEY" in c for c in api.calls) and any("email=reviewer%40example.org" in c for c in api.calls)
    for path in (review / "surveillance").rglob("*"):
        if path.is_file():
            text = path.read_text()
            assert "SECRETKEY" not in text and "example.org" not in text and "api_key" not in text, path


@pytest.mark.parametrize("line,field", [("  pubmed: {query: q, api_key: abc}", "api_key"),
                                        ("  pubmed: {query: 'q ann@example.org'}", "e-mail address"),
                                        ("  pubmed: {query: q, max_records: 20000}", "at most 9,999"),
                                        ("  embase: {query: q}", "unknown source")])
def test_searches_yaml_refuses_secrets_and_what_no_source_can_do(review, line, field):
    (review / "surveillance" / "searches.yaml").write_text(f"schedule: monthly\nstart: 2024-01-01\nsources:\n{line}\n")
    with pytest.raises(ledger.LedgerError) as err:
        ledger.read_searches(review)
    assert "searches.yaml" in str(err.value) and field in str(err.value)


def test_no_double_counting_across_sources_and_counts_add_up(api, review):
    run_search(review, JAN[1], clients=_clients())
    rows = {c["id"]: c for c in ledger.read_candidates(review)}
    assert rows["epmc:MED:39000002"]["duplicate_of"] == "pmid:39000002"          # the same PMID
    assert rows["epmc:AGR:AGR500001"]["duplicate_of"] == "pmid:39000003"         # the same title, no PMID
    assert rows["pmid:39000002"]["sources"] == "pubmed; europepmc"
    assert rows["ctgov:NCT09000001"]["duplicate_of"] == ""                        # a registration, not a copy
    entries, superseded = flow.combined_flow(review, yaml.safe_load((review / "review.yaml").read_text()))
    assert superseded == [] and entries[0] == BASELINE
    e = entries[1]
    assert e["by_source"] == {"ClinicalTrials.gov": 3, "Europe PMC": 3, "PubMed": 3}
    assert e["identified"] == {"databases": 6, "registers": 3} and e["duplicates_removed"] == 2
    assert e["records_screened"] == 7 and e["awaiting_screening"] == 7 and e["studies_included_total"] == 35
    from livingmeta.pipeline.prisma import flow_problems, prisma_summary
    assert flow_problems(entries) == []
    summary = prisma_summary({"id": "x"}, "review.yaml", entries)
    assert summary["editions"][1]["form"] == "updated review"
    assert "PubMed (n = 3)" in summary["editions"][1]["boxes"]["identified"]


def test_decisions_flow_into_the_prisma_counts(api, review, tmp_path):
    from livingmeta.surveillance import command
    run_search(review, JAN[1], clients=_clients())
    ta = tmp_path / "ta.csv"
    ta.write_text("id,title,included\npmid:39000001,x,1\npmid:39000002,x,0\npmid:39000003,x,1\nctgov:NCT09000001,x,1\n"
                  "ctgov:NCT09000002,x,0\nctgov:NCT09000003,x,0\nepmc:PPR:PPR800001,x,1\n")
    ft = tmp_path / "ft.csv"
    ft.write_text("id,decision,reason,trial_id\npmid:39000001,include,,nct09000001\npmid:39000003,exclude,not randomised,\n"
                  "ctgov:NCT09000001,include,,nct09000001\n")
    args = type("A", (), {"stage": "title_abstract", "reviewer": "AB", "date": date(2024, 2, 2), "file": str(ta)})
    command.decisions(args, review)
    args.stage, args.file = "full_text", str(ft)
    command.decisions(args, review)
    before = (review / "surveillance" / "decisions.csv").read_bytes()
    command.decisions(args, review)                                        # the same file again: nothing new
    assert (review / "surveillance" / "decisions.csv").read_bytes() == before
    entries, _ = flow.combined_flow(review, yaml.safe_load((review / "review.yaml").read_text()))
    e = entries[1]
    assert (e["records_screened"], e["records_excluded"], e["reports_sought"], e["reports_assessed"]) == (7, 3, 4, 3)
    assert e["reports_excluded"] == {"not randomised": 1} and e["awaiting_assessment"] == 1
    assert e["studies_included_new"] == 1 and e["studies_included_total"] == 36     # two reports, one study
    from livingmeta.pipeline.prisma import flow_problems
    assert flow_problems(entries) == []


def test_a_trial_record_is_recognised_and_its_retraction_is_warned(api, review):
    rec_path = sorted((review / "trials").glob("*.yaml"))[0]
    rec = yaml.safe_load(rec_path.read_text())
    rec["citation"]["doi"] = "10.5555/synth.2024.001"
    rec["registration"] = "NCT09000002"
    from livingmeta.pipeline.records import dump_yaml
    rec_path.write_text(dump_yaml(rec))
    run_search(review, JAN[1], clients=_clients())
    rows = {c["id"]: c for c in ledger.read_candidates(review)}
    assert rows["pmid:39000001"]["duplicate_of"] == f"trial:{rec['id']}"
    assert rows["ctgov:NCT09000002"]["duplicate_of"] == f"trial:{rec['id']}"
    warnings = flow.retraction_warnings(review, [rec])
    assert [w["trial"] for w in warnings] == [rec["id"]]
    assert "RetractionIn: PMID 39000099" in warnings[0]["notices"] and "Retracted Publication" in warnings[0]["notices"]


# --- registry watch and draft records ------------------------------------------------------------

def hedges_g_by_hand(m1, s1, n1, m2, s2, n2):
    m = n1 + n2 - 2
    sp = math.sqrt(((n1 - 1) * s1 ** 2 + (n2 - 1) * s2 ** 2) / m)
    j = math.exp(math.lgamma(m / 2) - math.lgamma((m - 1) / 2)) / math.sqrt(m / 2)
    return j * (m1 - m2) / sp


def test_posted_results_become_a_draft_that_check_validates_and_a_person_confirms(api, review):
    out = run_search(review, JAN[1], clients=_clients())
    events = {e["registration"]: e["changes"] for e in out.events}
    assert "results posted 2024-01-18" in events["NCT09000001"]
    assert "completion date 2023-06-30 passed without results posted" in events["NCT09000003"]
    assert events["NCT09000002"] == ["new registration"]
    draft = review / "surveillance" / "drafts" / "nct09000001.yaml"
    rec = yaml.safe_load(draft.read_text())
    assert rec["registration"] == "NCT09000001" and "ClinicalTrials.gov NCT09000001, results first posted 2024-01-18" \
        in rec["outcomes"]["depression"][0]["source"]
    arms = rec["outcomes"]["depression"][0]["arms"]
    assert arms["exercise"] == {"n": 42, "mean": 8.4, "sd": 4.1} and arms["control"] == {"n": 40, "mean": 10.9, "sd": 4.6}
    from livingmeta.stats.effects import hedges_g
    g = float(hedges_g(8.4, 4.1, 42, 10.9, 4.6, 40).yi)
    g_draft = float(hedges_g(arms["exercise"]["mean"], arms["exercise"]["sd"], arms["exercise"]["n"],
                       arms["control"]["mean"], arms["control"]["sd"], arms["control"]["n"]).yi)
    assert g_draft == pytest.approx(hedges_g_by_hand(8.4, 4.1, 42, 10.9, 4.6, 40), abs=1e-12) == pytest.approx(g)
    assert g_draft == pytest.approx(-0.5692, abs=1e-4)   # by hand: J(80) = 0.99057, s_pooled = 4.3507
    from livingmeta.cli import main
    assert main(["check", str(review)]) == 0                     # the ledger and the draft pass check
    assert not (review / "trials" / "nct09000001.yaml").exists()  # a draft is not in the analysis
    assert main(["surveil", "confirm", str(review), "nct09000001", "--reviewer", "AB", "--date", "2024-02-03"]) == 0
    assert (review / "trials" / "nct09000001.yaml").exists() and not draft.exists()
    assert main(["check", str(review)]) == 0                     # 36 trials: the ledger counts the new study
    entries, _ = flow.combined_flow(review, yaml.safe_load((review / "review.yaml").read_text()))
    assert entries[-1]["studies_included_new"] == 1 and entries[-1]["studies_included_total"] == 36


def test_registry_watch_reports_status_changes(api, review, monkeypatch):
    run_search(review, JAN[1], clients=_clients())
    changed = study("NCT09000002")
    changed["protocolSection"]["statusModule"]["overallStatus"] = "ACTIVE_NOT_RECRUITING"
    real = study
    monkeypatch.setattr(__import__(__name__), "study", lambda nct: changed if nct == "NCT09000002" else real(nct))
    c = Client("ClinicalTrials.gov", sleep=lambda s: None, clock=lambda: 0.0)
    out = run_watch(review, date(2024, 2, 29), client=c)
    events = {e["registration"]: e["changes"] for e in out.events}
    assert events == {"NCT09000002": ["status changed from RECRUITING to ACTIVE_NOT_RECRUITING"]}
    again = run_watch(review, date(2024, 2, 29), client=c)
    assert again.events == out.events and again.written == []
    trigger = flow.update_trigger(review, [])
    assert trigger["ongoing_registered"] == 1 and trigger["planned_enrolment"] == 120
    assert trigger["sentence"].startswith("Update trigger (searches run monthly): the search to 2024-01-31 found 7 new "
                                          "records (7 awaiting screening)")


def test_check_refuses_a_ledger_whose_counts_include_fewer_studies_than_held(api, review):
    definition = yaml.safe_load((review / "review.yaml").read_text())
    definition["search_flow"] = []
    (review / "review.yaml").write_text(yaml.safe_dump(definition, sort_keys=False))
    run_search(review, JAN[1], clients=_clients())
    from livingmeta.surveillance.command import ledger_problems
    problems = ledger_problems(review, definition, 35)
    assert any("studies_included_total is 0" in p and "35 trial records" in p for p in problems), problems


def test_update_trigger_and_notices_reach_changes_json_and_the_report(api, review):
    import jsonschema

    from livingmeta.pipeline.records import load_schema
    from livingmeta.report.wording import changes_sentences
    rec_path = sorted((review / "trials").glob("*.yaml"))[0]
    rec = yaml.safe_load(rec_path.read_text())
    rec["citation"]["doi"] = "10.5555/synth.2024.001"
    from livingmeta.pipeline.records import dump_yaml
    rec_path.write_text(dump_yaml(rec))
    run_search(review, JAN[1], clients=_clients())
    notices = flow.retraction_sentences(flow.retraction_warnings(review, [rec]))
    assert notices == [f"Notice on an included trial: the publication of {rec['label']} has a retraction notice "
                       "(PMID 39000099) and is indexed as a retracted publication; its data should be checked before "
                       "the next edition."]
    changes = {"first_edition": False, "previous_edition": "2024-01-01-abcd1234", "added": [], "removed": [],
               "corrected": [], "update_trigger": flow.update_trigger(review, [rec])["sentence"],
               "retraction_warnings": notices}
    jsonschema.validate(changes, load_schema("changes"))
    text = changes_sentences(changes)
    assert text[-2] == notices[0] and text[-1].startswith("Update trigger (searches run monthly): the search to 2024-01-31")
    assert "registered trial is ongoing, planning to enrol 120 participants" in text[-1]
    assert "_" not in text[-1] and "{" not in " ".join(text)      # reader text: no keys or literals


def test_the_flow_diagram_draws_the_ledger_counts_per_source(api, review, tmp_path):
    from livingmeta.report.figures import save_figure
    from livingmeta.report.prisma_figure import flow_diagram
    run_search(review, JAN[1], clients=_clients())
    entries, _ = flow.combined_flow(review, yaml.safe_load((review / "review.yaml").read_text()))
    save_figure(flow_diagram(entries, 1), tmp_path / "e2")
    svg = (tmp_path / "e2.svg").read_text()
    assert "Europe PMC (n = 3)" in svg and "awaiting screening (n = 7)" in svg and "previous version" in svg


def test_a_new_search_changes_the_edition_fingerprint(api, review):
    from livingmeta.living.fingerprint import fingerprint
    config = Path(__file__).resolve().parents[1] / "config" / "config.yaml"
    before = fingerprint(review, config)
    run_search(review, JAN[1], clients=_clients())
    after = fingerprint(review, config)
    assert after["data"] != before["data"] and after["config"] == before["config"]
    assert fingerprint(review, config) == after


@pytest.mark.slow
def test_a_build_with_a_ledger_draws_its_counts_and_prints_its_update_trigger(api, tmp_path):
    """End to end: the prisma and changes rules read the ledger; the report says the trigger."""
    import subprocess
    import sys

    from conftest import copy_project
    project = copy_project(tmp_path / "project")
    review = project / "data" / "reviews" / "exercise-depression"
    path = review / "review.yaml"
    path.write_text(yaml.safe_dump({**yaml.safe_load(path.read_text()), "search_flow": [BASELINE]}, sort_keys=False))
    (review / "surveillance").mkdir()
    (review / "surveillance" / "searches.yaml").write_text(SEARCHES)
    run_search(review, JAN[1], clients=_clients())
    res = subprocess.run([sys.executable, "-m", "snakemake", "--cores", "2", "--directory", str(project), "--snakefile",
                          str(project / "Snakefile"), "-q"], capture_output=True, text=True, cwd=project)
    assert res.returncode == 0, res.stderr[-3000:]
    out = project / "results" / "exercise-depression"
    prisma = json.loads((out / "prisma.json").read_text())
    assert prisma["editions"][1]["by_source"] == {"ClinicalTrials.gov": 3, "Europe PMC": 3, "PubMed": 3}
    changes = json.loads((out / "changes.json").read_text())
    assert changes["update_trigger"].startswith("Update trigger (searches run monthly): the search to 2024-01-31 found 7")
    assert changes["update_trigger"] in (out / "report.html").read_text()


def test_the_command_line_searches_counts_and_fails_in_one_line(api, review, capsys):
    from livingmeta.cli import main
    assert main(["surveil", "search", str(review), "--until", "2024-01-31"]) == 0
    assert "PubMed: 3 records from 2024-01-01 to 2024-01-31" in capsys.readouterr().out
    assert main(["surveil", "counts", str(review)]) == 0
    out = capsys.readouterr().out
    assert "Search to 2024-01-31: identified 9 (ClinicalTrials.gov 3, Europe PMC 3, PubMed 3), duplicates removed 2" in out
    assert "1 draft record awaiting confirmation: nct09000001" in out
    api.fail["einfo.fcgi"] = [404]
    before = snapshot(review)
    assert main(["surveil", "search", str(review), "--until", "2024-02-29"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "PubMed: https://eutils.ncbi.nlm.nih.gov/entrez/eutils/einfo.fcgi" in err and "HTTP 404" in err
    assert snapshot(review) == before
