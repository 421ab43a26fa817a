"""The little HTTP the library needs, on the standard library: GET a document, POST a form.

No redirects are followed: a JWKS or token endpoint that moves is a configuration change, not
something a response should be able to decide.
"""

from __future__ import annotations

import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from email.message import Message

USER_AGENT = "authportal-client/0.1"
MAX_RESPONSE_BYTES = 1 << 20


@dataclass(frozen=True)
class Response:
    status: int
    headers: Message
    body: bytes


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        return None


_opener = urllib.request.build_opener(_NoRedirect)


def request(
    url: str, *, data: bytes | None = None, headers: dict[str, str] | None = None, timeout: float
) -> Response:
    """One HTTP exchange. Any status is a Response; only transport failures raise (OSError)."""
    if not url.startswith(("https://", "http://")):
        raise OSError(f"refusing a non-HTTP URL: {url[:100]!r}")
    headers = {"User-Agent": USER_AGENT, **(headers or {})}
    req = urllib.request.Request(url, data=data, headers=headers)  # noqa: S310 (scheme checked above)
    try:
        with _opener.open(req, timeout=timeout) as response:
            return Response(response.status, response.headers, _read_capped(response))
    except urllib.error.HTTPError as error:
        with error:
            return Response(error.code, error.headers, _read_capped(error))


def _read_capped(stream) -> bytes:  # type: ignore[no-untyped-def]
    body = stream.read(MAX_RESPONSE_BYTES + 1)
    if len(body) > MAX_RESPONSE_BYTES:
        raise OSError(f"response larger than {MAX_RESPONSE_BYTES} bytes")
    return body


def max_age(headers: Message) -> int | None:
    """Seconds from `Cache-Control: max-age`, 0 for no-store/no-cache, None when not said."""
    value = headers.get("Cache-Control", "")
    seconds = None
    for directive in value.split(","):
        name, _, argument = directive.strip().partition("=")
        name = name.lower()
        if name in ("no-store", "no-cache"):
            return 0
        if name == "max-age":
            try:
                seconds = max(0, int(argument.strip().strip('"')))
            except ValueError:
                return 0
    return seconds


class Freshness:
    """When a document we fetched and cache (a JWKS, the revocation list) is stale, and when a stale one
    may be fetched again: fresh for its `Cache-Control` max-age, at most `longest_max_age` seconds, or
    `default_max_age` when it says none; a stale copy is refetched at most once per `cooldown`."""

    def __init__(
        self, *, clock: Callable[[], float], cooldown: float, default_max_age: int, longest_max_age: int
    ) -> None:
        self.clock = clock
        self.cooldown = cooldown
        self.default_max_age = default_max_age
        self.longest_max_age = longest_max_age
        self.last_attempt = float("-inf")  # by `clock`

    def expires_at(self, fetched_at: float, max_age: int | None) -> float:
        """When a copy fetched at `fetched_at`, whose response said `max_age`, goes stale."""
        return fetched_at + (self.default_max_age if max_age is None else min(max_age, self.longest_max_age))

    def attempt(self) -> float:
        """Note a fetch starting now; returns now, by `clock`."""
        self.last_attempt = self.clock()
        return self.last_attempt

    def cooling_down(self) -> bool:
        """Whether the last fetch began under `cooldown` seconds ago."""
        return self.clock() < self.last_attempt + self.cooldown
