"""The three sources, each searched over a date window through :class:`http.Client`.

- **PubMed** (NCBI E-utilities): ``einfo`` for the database's last update, ``esearch`` with an
  Entrez-date window (``datetype=edat``), paged with ``retstart``, then ``efetch`` XML in batches of
  ``batch`` PMIDs: PMID, title, structured abstract, DOI, publication types, registry ids from the
  DataBank list, corrections and retractions (CommentsCorrections), dates.
- **ClinicalTrials.gov** (API v2, ``/studies``): the review's condition/intervention query with
  ``filter.advanced=AREA[LastUpdatePostDate]RANGE[since,until]``, paged with ``pageToken``; status,
  dates, results posted, enrolment, allocation, linked PMIDs and outcome measures with per-arm
  results. ``/version`` gives the data timestamp.
- **Europe PMC** (REST ``/search``, ``resultType=core``): ``CREATION_DATE:[since TO until]``, paged
  with ``cursorMark``; preprints (source PPR) included.

Each returns a :class:`SearchResult`. A query matching more than its ``max_records`` stops before
any record is fetched, with an error naming the source and the query. XML is parsed with
defusedxml (the answers are untrusted: no entity expansion).
"""

from __future__ import annotations

import urllib.parse
from dataclasses import dataclass, field
from datetime import date

from defusedxml import ElementTree as SafeET

from livingmeta.surveillance import candidates as cand
from livingmeta.surveillance.http import Client, SourceError, api_key, contact, redact

EUTILS = "https://eutils.ncbi.nlm.nih.gov/entrez/eutils"
CTGOV = "https://clinicaltrials.gov/api/v2"
EPMC = "https://www.ebi.ac.uk/europepmc/webservices/rest"
TOOL = "livingmeta"
DEFAULT_MAX_RECORDS = 5000
# page sizes: E-utilities allow up to 10,000 ids per esearch page and advise batches of 200 for
# efetch by id; ClinicalTrials.gov's pageSize is at most 1,000, Europe PMC's 1,000
PUBMED_PAGE, PUBMED_BATCH, CTGOV_PAGE, EPMC_PAGE = 1000, 200, 100, 1000
NAMES = {"pubmed": "PubMed", "europepmc": "Europe PMC", "clinicaltrials_gov": "ClinicalTrials.gov"}


@dataclass
class SearchResult:
    source: str
    query: str
    url: str                      # the first request, without secrets
    count: int                    # what the API says the query matches
    data_timestamp: str | None    # the API's own date of its data, when it states one
    candidates: list[dict] = field(default_factory=list)
    studies: list[dict] = field(default_factory=list)   # registry records in full (ClinicalTrials.gov)


class CapError(SourceError):
    """A query matches more records than its cap."""


def _cap(source: str, query: str, window: str, count: int, cap: int):
    if count > cap:
        raise CapError(f"{NAMES[source]}: the query {query!r} ({window}) matches {count:,} records, more than the cap "
                       f"of {cap:,} (max_records in surveillance/searches.yaml); narrow the query or the window, or "
                       "raise the cap. Nothing was fetched or written.")


# --- PubMed -----------------------------------------------------------------------------------

def _ncbi_params() -> dict:
    key = api_key()
    return {"tool": TOOL, **contact(), **({"api_key": key} if key else {})}


def pubmed_client(**kw) -> Client:
    return Client("PubMed", rate=10.0 if api_key() else 3.0, **kw)


def search_pubmed(client: Client, strategy: dict, since: date, until: date) -> SearchResult:
    query, page, batch = strategy["query"], PUBMED_PAGE, PUBMED_BATCH
    cap = int(strategy.get("max_records", DEFAULT_MAX_RECORDS))
    info = client.get_json(f"{EUTILS}/einfo.fcgi", {"db": "pubmed", "retmode": "json", **_ncbi_params()})
    try:
        stamp = info["einforesult"]["dbinfo"][0].get("lastupdate")
    except (KeyError, IndexError, TypeError):
        raise client.malformed(f"{EUTILS}/einfo.fcgi", {"db": "pubmed"}, "no einforesult.dbinfo in the answer") from None
    base = {"db": "pubmed", "term": query, "datetype": "edat", "mindate": since.strftime("%Y/%m/%d"),
            "maxdate": until.strftime("%Y/%m/%d"), "retmode": "json", "retmax": page, **_ncbi_params()}
    pmids: list[str] = []
    count = None
    first_url = None
    while count is None or len(pmids) < count:
        params = {**base, "retstart": len(pmids)}
        first_url = first_url or redact(f"{EUTILS}/esearch.fcgi?" + _enc(params))
        res = client.get_json(f"{EUTILS}/esearch.fcgi", params).get("esearchresult")
        if not isinstance(res, dict) or "count" not in res or not isinstance(res.get("idlist"), list):
            raise client.malformed(f"{EUTILS}/esearch.fcgi", params, "no esearchresult with count and idlist")
        if count is None:
            count = _int(res["count"], client, f"{EUTILS}/esearch.fcgi", params)
            _cap("pubmed", query, f"Entrez date {since} to {until}", count, cap)
        if not res["idlist"]:
            break
        pmids += [str(i) for i in res["idlist"]]
    out = []
    for i in range(0, len(pmids), batch):
        params = {"db": "pubmed", "id": ",".join(pmids[i:i + batch]), "retmode": "xml", **_ncbi_params()}
        body = client.get(f"{EUTILS}/efetch.fcgi", params)
        try:
            root = SafeET.fromstring(body)
        except Exception as e:  # defusedxml raises ParseError or a DefusedXmlException
            raise client.malformed(f"{EUTILS}/efetch.fcgi", params, f"the answer is not well-formed XML ({e})") from None
        if root.tag != "PubmedArticleSet":
            raise client.malformed(f"{EUTILS}/efetch.fcgi", params, f"expected a PubmedArticleSet, found <{root.tag}>")
        out += [pubmed_record(a) for a in root.findall("PubmedArticle")]
    return SearchResult("pubmed", query, first_url, count or 0, stamp, sorted(out, key=lambda c: c["id"]))


def _enc(params):
    return urllib.parse.urlencode(params)


def _int(value, client, url, params) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise client.malformed(url, params, f"the count {value!r} is not a number") from None


def _text(el) -> str:
    return " ".join("".join(el.itertext()).split()) if el is not None else ""


def _date(el) -> str:
    if el is None:
        return ""
    parts = [el.findtext("Year"), el.findtext("Month"), el.findtext("Day")]
    if not parts[0]:
        return ""
    return "-".join([parts[0]] + [p.zfill(2) for p in parts[1:] if p and p.isdigit()])


def pubmed_record(article) -> dict:
    """One PubmedArticle element as a candidate."""
    mc = article.find("MedlineCitation")
    art = mc.find("Article")
    c = cand.blank()
    pmid = mc.findtext("PMID", "").strip()
    c.update(id=f"pmid:{pmid}", kind="publication", pmid=pmid, sources="pubmed")
    c["title"] = _text(art.find("ArticleTitle"))
    parts = []
    for ab in art.findall("Abstract/AbstractText"):
        label = ab.get("Label")
        parts.append(f"{label}: {_text(ab)}" if label else _text(ab))
    c["abstract"] = " ".join(parts)
    doi = next((_text(x) for x in article.findall("PubmedData/ArticleIdList/ArticleId") if x.get("IdType") == "doi"), "")
    doi = doi or next((_text(x) for x in art.findall("ELocationID") if x.get("EIdType") == "doi"), "")
    c["doi"] = cand.normal_doi(doi)
    types = [_text(t) for t in art.findall("PublicationTypeList/PublicationType")]
    c["publication_types"] = cand.join(types)
    regs = [_text(a) for db in art.findall("DataBankList/DataBank") for a in db.findall("AccessionNumberList/AccessionNumber")]
    c["registry_ids"] = cand.join(sorted(set(regs) | set(cand.registry_ids(c["abstract"]))))
    c["corrections"] = cand.join(f"{cc.get('RefType')}: PMID {cc.findtext('PMID', '').strip()}".strip()
                                 for cc in mc.findall("CommentsCorrectionsList/CommentsCorrections")
                                 if cc.get("RefType") in ("RetractionIn", "RetractionOf", "ErratumIn", "ErratumFor",
                                                          "ExpressionOfConcernIn", "UpdateIn"))
    c["rct"] = cand.rct_flag(types)
    entrez = next((x for x in article.findall("PubmedData/History/PubMedPubDate") if x.get("PubStatus") == "entrez"), None)
    c["entry_date"] = _date(entrez)
    c["year"] = art.findtext("Journal/JournalIssue/PubDate/Year") or (c["entry_date"][:4] if c["entry_date"] else "")
    c["journal"] = _text(art.find("Journal/Title"))
    c["first_author"] = art.findtext("AuthorList/Author/LastName") or _text(art.find("AuthorList/Author/CollectiveName"))
    return c


# --- ClinicalTrials.gov -------------------------------------------------------------------------

def ctgov_client(**kw) -> Client:
    return Client("ClinicalTrials.gov", rate=0.8, **kw)  # the service asks for about 50 requests a minute


def search_ctgov(client: Client, strategy: dict, since: date, until: date) -> SearchResult:
    page = CTGOV_PAGE
    cap = int(strategy.get("max_records", DEFAULT_MAX_RECORDS))
    version = client.get_json(f"{CTGOV}/version", {})
    stamp = version.get("dataTimestamp")
    base = {"format": "json", "pageSize": page, "countTotal": "true",
            "filter.advanced": f"AREA[LastUpdatePostDate]RANGE[{since.isoformat()},{until.isoformat()}]"}
    for key in ("cond", "intr", "term"):
        if strategy.get(key):
            base[f"query.{key}"] = strategy[key]
    shown = " AND ".join(f"{k}: {strategy[k]}" for k in ("cond", "intr", "term") if strategy.get(k))
    studies, token, count, first_url = [], None, None, None
    while True:
        params = {**base, **({"pageToken": token} if token else {})}
        first_url = first_url or redact(f"{CTGOV}/studies?" + _enc(params))
        data = client.get_json(f"{CTGOV}/studies", params)
        if not isinstance(data.get("studies"), list):
            raise client.malformed(f"{CTGOV}/studies", params, "no 'studies' list in the answer")
        if count is None:
            count = _int(data.get("totalCount", len(data["studies"])), client, f"{CTGOV}/studies", params)
            _cap("clinicaltrials_gov", shown, f"last update posted {since} to {until}", count, cap)
        studies += data["studies"]
        token = data.get("nextPageToken")
        if not token or not data["studies"]:
            break
    out = sorted((ctgov_record(s) for s in studies), key=lambda c: c["id"])
    return SearchResult("clinicaltrials_gov", shown, first_url, count or 0, stamp, out,
                        sorted(studies, key=lambda s: _nct(s)))


def _nct(study: dict) -> str:
    return ((study.get("protocolSection") or {}).get("identificationModule") or {}).get("nctId", "")


def _get(d, *path, default=""):
    for p in path:
        if not isinstance(d, dict):
            return default
        d = d.get(p)
    return default if d is None else d


def ctgov_record(study: dict) -> dict:
    ps = study.get("protocolSection") or {}
    nct = _nct(study)
    c = cand.blank()
    c.update(id=f"ctgov:{nct}", kind="registration", registry_ids=nct, sources="clinicaltrials_gov")
    c["title"] = _get(ps, "identificationModule", "officialTitle") or _get(ps, "identificationModule", "briefTitle")
    c["abstract"] = " ".join(str(_get(ps, "descriptionModule", "briefSummary")).split())
    c["status"] = _get(ps, "statusModule", "overallStatus")
    c["entry_date"] = _get(ps, "statusModule", "lastUpdatePostDateStruct", "date")
    start = _get(ps, "statusModule", "startDateStruct", "date")
    c["year"] = (_get(ps, "statusModule", "studyFirstPostDateStruct", "date") or start)[:4]
    c["first_author"] = _get(ps, "sponsorCollaboratorsModule", "leadSponsor", "name")
    c["rct"] = cand.rct_flag([], _get(ps, "designModule", "designInfo", "allocation") or "NA")
    pmids = [str(r.get("pmid")) for r in _get(ps, "referencesModule", "references", default=[])
             if isinstance(r, dict) and r.get("pmid") and r.get("type") in ("RESULT", "DERIVED")]
    c["corrections"] = ""
    c["publication_types"] = "Registry record"
    c["journal"] = "ClinicalTrials.gov"
    c["pmid"] = ""  # a registration is not a publication; its result publications are registry_watch's
    if pmids:
        c["publication_types"] = cand.join(["Registry record", *(f"results in PMID {p}" for p in pmids)])
    return c


def registry_state(study: dict) -> dict:
    """What the registry watch compares between runs, for one registration."""
    ps = study.get("protocolSection") or {}
    enrol = _get(ps, "designModule", "enrollmentInfo", default={}) or {}
    return {"registration": _nct(study), "status": _get(ps, "statusModule", "overallStatus"),
            "completion_date": _get(ps, "statusModule", "primaryCompletionDateStruct", "date")
            or _get(ps, "statusModule", "completionDateStruct", "date"),
            "results_posted": _get(ps, "statusModule", "resultsFirstPostDateStruct", "date")
            if study.get("hasResults") or study.get("resultsSection") else "",
            "enrollment": str(enrol.get("count", "")), "enrollment_type": str(enrol.get("type", "")).lower(),
            "last_update": _get(ps, "statusModule", "lastUpdatePostDateStruct", "date"),
            "linked_pmids": cand.join(str(r.get("pmid")) for r in _get(ps, "referencesModule", "references", default=[])
                                      if isinstance(r, dict) and r.get("pmid") and r.get("type") in ("RESULT", "DERIVED"))}


# --- Europe PMC --------------------------------------------------------------------------------

def europepmc_client(**kw) -> Client:
    return Client("Europe PMC", rate=3.0, **kw)


def search_europepmc(client: Client, strategy: dict, since: date, until: date) -> SearchResult:
    query, page = strategy["query"], EPMC_PAGE
    cap = int(strategy.get("max_records", DEFAULT_MAX_RECORDS))
    full = f"({query}) AND (CREATION_DATE:[{since.isoformat()} TO {until.isoformat()}])"
    base = {"query": full, "format": "json", "resultType": "core", "pageSize": page, **contact()}
    cursor, results, count, first_url, version = "*", [], None, None, None
    while True:
        params = {**base, "cursorMark": cursor}
        first_url = first_url or redact(f"{EPMC}/search?" + _enc(params))
        data = client.get_json(f"{EPMC}/search", params)
        page_results = _get(data, "resultList", "result", default=None)
        if not isinstance(page_results, list) or "hitCount" not in data:
            raise client.malformed(f"{EPMC}/search", params, "no hitCount and resultList.result in the answer")
        if count is None:
            count = _int(data["hitCount"], client, f"{EPMC}/search", params)
            version = data.get("version")
            _cap("europepmc", query, f"created {since} to {until}", count, cap)
        results += page_results
        nxt = data.get("nextCursorMark")
        if not page_results or not nxt or nxt == cursor or len(results) >= count:
            break
        cursor = nxt
    out = sorted((europepmc_record(r) for r in results), key=lambda c: c["id"])
    return SearchResult("europepmc", query, first_url, count or 0, f"API version {version}" if version else None, out)


def europepmc_record(r: dict) -> dict:
    c = cand.blank()
    src, rid = str(r.get("source", "")), str(r.get("id", ""))
    types = _get(r, "pubTypeList", "pubType", default=[])
    types = [types] if isinstance(types, str) else [str(t) for t in types]
    c.update(id=f"epmc:{src}:{rid}", kind="preprint" if src == "PPR" else "publication",
             pmid=str(r.get("pmid") or ""), doi=cand.normal_doi(r.get("doi")), sources="europepmc")
    c["title"] = " ".join(str(r.get("title") or "").split())
    c["abstract"] = " ".join(str(r.get("abstractText") or "").split())
    c["publication_types"] = cand.join(types)
    c["rct"] = cand.rct_flag(types)
    c["year"] = str(r.get("pubYear") or "")
    c["entry_date"] = str(r.get("firstIndexDate") or r.get("dateOfCreation") or r.get("firstPublicationDate") or "")
    c["first_author"] = str(r.get("authorString") or "").split(",")[0].strip()
    c["journal"] = _get(r, "journalInfo", "journal", "title") or ("preprint" if src == "PPR" else "")
    corr = _get(r, "commentCorrectionList", "commentCorrection", default=[])
    c["corrections"] = cand.join(f"{x.get('type')}: {x.get('source', '')} {x.get('id', '')}".strip()
                                 for x in corr if isinstance(x, dict) and x.get("type"))
    c["registry_ids"] = cand.join(cand.registry_ids(c["abstract"] + " " + c["title"]))
    return c


SEARCHERS = {"pubmed": (pubmed_client, search_pubmed), "clinicaltrials_gov": (ctgov_client, search_ctgov),
             "europepmc": (europepmc_client, search_europepmc)}
