"""Every request of the surveillance sources goes through :func:`send`, the one seam: the test
suite replaces it (and blocks the network), so every source is tested offline on fixtures in the
API's documented layout.

:class:`Client` adds what a polite client of a public API owes it: pacing (at most ``rate``
requests a second; NCBI asks for 3 a second, 10 with an API key), the ``tool``/``email``
parameters the API asks for, and retry with exponential backoff on 429 and 5xx (honouring
``Retry-After``). Secrets (an API key, the contact e-mail) come from the environment and are
sent, never written: :func:`redact` takes them out of every URL that is stored or printed.
"""

from __future__ import annotations

import json
import os
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field

from livingmeta.errors import LivingmetaError

USER_AGENT = "livingmeta-surveillance (https://github.com/livingmeta; living systematic review searches)"
SECRET_PARAMS = ("api_key", "email")
# environment variables read at run time, never written to any file
ENV_API_KEY = "NCBI_API_KEY"
ENV_EMAIL = "LIVINGMETA_CONTACT_EMAIL"
RETRY_STATUS = {429, 500, 502, 503, 504}


class SourceError(LivingmetaError):
    """A source could not be searched (refused, unreachable, malformed answer, too many results):
    the message names the source and the URL (without secrets)."""


@dataclass
class Response:
    status: int
    body: bytes
    headers: dict = field(default_factory=dict)


def send(url: str, headers: dict, timeout: float = 60.0) -> Response:
    """The one function that talks to the network (replaced in tests). A transport failure
    (refused, DNS, timeout) is status 0 with the reason as the body."""
    req = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:  # noqa: S310 (https URLs built here)
            return Response(r.status, r.read(), {k.lower(): v for k, v in r.headers.items()})
    except urllib.error.HTTPError as e:
        return Response(e.code, e.read() or b"", {k.lower(): v for k, v in (e.headers or {}).items()})
    except (urllib.error.URLError, TimeoutError, OSError) as e:
        return Response(0, str(getattr(e, "reason", e)).encode(), {})


def redact(url: str) -> str:
    """``url`` with the secret parameters (api_key, email) taken out: what may be stored or printed."""
    parts = urllib.parse.urlsplit(url)
    query = [(k, v) for k, v in urllib.parse.parse_qsl(parts.query, keep_blank_values=True) if k not in SECRET_PARAMS]
    return urllib.parse.urlunsplit(parts._replace(query=urllib.parse.urlencode(query)))


def contact() -> dict:
    """The contact parameters from the environment (NCBI and Europe PMC ask for an e-mail)."""
    email = os.environ.get(ENV_EMAIL, "").strip()
    return {"email": email} if email else {}


def api_key() -> str | None:
    return os.environ.get(ENV_API_KEY, "").strip() or None


class Client:
    """Requests to one source: paced, retried, with errors naming the source and the URL.

    ``rate`` is requests per second; ``retries`` the number of further attempts after a 429,
    a 5xx or a transport failure, waiting ``backoff * 2**attempt`` seconds (or Retry-After, at
    most ``max_wait``). ``sleep`` and ``clock`` are injectable so tests neither wait nor depend
    on the machine's speed."""

    def __init__(self, source: str, rate: float = 3.0, retries: int = 4, backoff: float = 1.0, max_wait: float = 60.0,
                 sleep=None, clock=None):
        self.source, self.rate, self.retries, self.backoff, self.max_wait = source, rate, retries, backoff, max_wait
        self.sleep = sleep or (lambda seconds: time.sleep(seconds))
        self.clock = clock or (lambda: time.monotonic())
        self._last = None
        self.requests = 0

    def _pace(self):
        if self._last is not None:
            wait = 1.0 / self.rate - (self.clock() - self._last)
            if wait > 0:
                self.sleep(wait)
        self._last = self.clock()

    def get(self, url: str, params: dict) -> bytes:
        """The body of a successful GET of ``url`` with ``params`` (secrets included, never stored)."""
        full = url + "?" + urllib.parse.urlencode({k: v for k, v in params.items() if v is not None})
        shown = redact(full)
        for attempt in range(self.retries + 1):
            self._pace()
            self.requests += 1
            r = send(full, {"User-Agent": USER_AGENT, "Accept": "application/json, application/xml;q=0.9"})
            if 200 <= r.status < 300:
                return r.body
            if r.status not in RETRY_STATUS and r.status != 0:
                raise SourceError(f"{self.source}: {shown}: the server answered HTTP {r.status} "
                                  f"({_snippet(r.body)}); check the query in surveillance/searches.yaml")
            if attempt == self.retries:
                what = f"HTTP {r.status}" if r.status else f"no connection ({_snippet(r.body)})"
                raise SourceError(f"{self.source}: {shown}: {what} after {self.retries + 1} attempts; "
                                  "nothing was written, run the search again later")
            self.sleep(self._wait(r, attempt))
        raise AssertionError("unreachable")

    def _wait(self, r: Response, attempt: int) -> float:
        after = r.headers.get("retry-after")
        if after is not None:
            try:
                return min(self.max_wait, max(0.0, float(after)))
            except ValueError:
                pass
        return min(self.max_wait, self.backoff * 2 ** attempt)

    def get_json(self, url: str, params: dict) -> dict:
        body = self.get(url, params)
        try:
            data = json.loads(body)
        except (ValueError, UnicodeDecodeError) as e:
            raise SourceError(f"{self.source}: {redact(url + '?' + urllib.parse.urlencode(params))}: the answer is not "
                              f"valid JSON ({e.__class__.__name__}: {_snippet(str(e).encode())}); "
                              "the service may be changing its format: nothing was written") from None
        if not isinstance(data, dict):
            raise self.malformed(url, params, "the answer is not a JSON object")
        return data

    def malformed(self, url: str, params: dict, what: str) -> SourceError:
        return SourceError(f"{self.source}: {redact(url + '?' + urllib.parse.urlencode(params))}: {what}; "
                           "the service may be changing its format: nothing was written")


def _snippet(body: bytes) -> str:
    text = body[:200].decode("utf-8", "replace").replace("\n", " ").strip()
    return text or "empty answer"
