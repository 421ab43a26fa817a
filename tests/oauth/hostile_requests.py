"""Hostile token requests, for tests/oauth/test_token_fuzz.py and bench/fuzz_token.

Hypothesis builds raw HTTP/1.1 requests to /o/token (methods, targets, content types, repeated and
huge parameters, bad UTF-8, NUL bytes, odd Basic headers, URIs that break parsers); `exchange` sends
one over a raw socket, so that what the HTTP server receives is exactly those bytes;
`answer_problems` and `audit_problems` are the property every answer must have.

Most requests are well-formed HTTP: they reach the application, which must answer RFC 6749 JSON with
`no-store`, never a 5xx, and write exactly one audit row holding no secret. A few break HTTP's own
syntax (a raw 0xFF in the request line, a NUL in a header, a folded header): granian refuses those
itself, before any application code runs, with a bare 4xx and no row; they are counted apart.
"""

from __future__ import annotations

import base64
import contextlib
import json
import socket
from collections.abc import Iterable
from dataclasses import dataclass, field
from urllib.parse import quote, quote_plus

from hypothesis import strategies as st

RFC6749_ERRORS = frozenset(
    {
        "invalid_request",
        "invalid_client",
        "invalid_grant",
        "unauthorized_client",
        "unsupported_grant_type",
        "invalid_scope",
        "invalid_target",  # RFC 8707
        "temporarily_unavailable",
    }
)
PARAMETERS = ("grant_type", "client_id", "client_secret", "scope", "resource")


@dataclass(frozen=True)
class Cast:
    """The real client the requests sometimes present, and what it may ask for."""

    client_id: str
    client_secret: str
    audiences: tuple[str, ...]
    scopes: tuple[str, ...]


@dataclass(frozen=True)
class HostileRequest:
    method: bytes
    target: bytes
    version: bytes
    headers: tuple[tuple[bytes, bytes], ...]
    body: bytes
    chunked: bool = False
    request_id: bool = False  # send a sane X-Request-ID of ours, unique to this request
    malformed: bytes = b""  # breaks HTTP/1.1 syntax: the HTTP server answers, not the application

    def raw(self, *, host: bytes, request_id: str) -> bytes:
        lines = [self.method + b" " + self.target + b" " + self.version]
        lines.append(b"Host: " + host)
        lines.extend(name + b": " + value for name, value in self.headers)
        if self.request_id:
            lines.append(b"X-Request-ID: " + request_id.encode())
        if self.chunked:
            lines.append(b"Transfer-Encoding: chunked")
            body = b"".join(b"%x\r\n%s\r\n" % (len(part), part) for part in _pieces(self.body, 1000) if part)
            body += b"0\r\n\r\n"
        else:
            lines.append(b"Content-Length: %d" % len(self.body))
            body = self.body
        lines.append(b"Connection: close")
        head = b"\r\n".join(lines)
        return head + self.malformed + b"\r\n\r\n" + body

    def __repr__(self) -> str:  # what Hypothesis prints for a failing example
        return f"HostileRequest({self.raw(host=b'127.0.0.1', request_id='<ours>')!r})"


def _pieces(data: bytes, size: int) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


# --- the pieces ----------------------------------------------------------------------------------

# Text with every kind of character: NUL and other controls, the literal "\u0000", quotes and
# backslashes, non-BMP characters; and bytes that are not UTF-8 at all.
_nasty_words = st.sampled_from(
    ["\x00", "\\u0000", "%00", "\u2028", "\ufeff", "\U0001f600", '"', "\\", "'", "<", "&", "=", "+", "%", ";"]
)
hostile_text = st.one_of(
    st.text(max_size=40),
    st.lists(st.one_of(_nasty_words, st.text(max_size=5)), max_size=8).map("".join),
)
not_utf8 = st.one_of(
    st.sampled_from([b"\xff", b"\xc3", b"\xed\xa0\x80", b"\xc0\xaf", b"\xf8\x88\x80\x80\x80", b"\x80"]),
    st.binary(min_size=1, max_size=20),
)

# URIs that have broken URI parsers: unclosed IPv6 brackets, bad ports, userinfo, backslashes,
# percent signs, controls, schemes in odd case.
_parser_breakers = st.sampled_from(
    [
        "https://[::1",
        "http://[",
        "https://[::1]:99999",
        "https://[v1.x]/",
        "https://[::ffff:1.2.3.4]",
        "https://a:b@c:-1/",
        "https://host:port",
        "https://exa mple.com",
        "https://\x00",
        "https:\\\\evil",
        "https://%zz",
        "https://doctors.internal#",
        "https:",
        "//host",
        "urn:",
        "a:",
        "HTTPS://DOCTORS.INTERNAL",
        "https://doctors.internal\\@evil",
        "https://doctors.internal:0",
        "http://1.1.1.1.1",
        "https://doctors.internal/%",
        "javascript:alert(1)",
    ]
)


def hostile_uris(cast: Cast) -> st.SearchStrategy[str]:
    built = st.builds(
        lambda scheme, host, port, path: f"{scheme}{host}{port}{path}",
        st.sampled_from(["https://", "http://", "HTTPS://", "", "ftp://", "https:/", "https:///"]),
        st.one_of(
            st.sampled_from([urlsplit_host(a) for a in cast.audiences]),
            st.sampled_from(["[", "]", "[::1", "[::1]", "::1", "[fe80::1%25eth0]", "", "@", "user@"]),
            hostile_text,
        ),
        st.sampled_from(["", ":", ":443", ":-1", ":99999999999", ":a", ":[", ":0x10"]),
        st.sampled_from(["", "/", "/a?b", "#f", "/%", "/\x00", "?#", "/..;/"]),
    )
    return st.one_of(st.sampled_from(cast.audiences), _parser_breakers, built)


def urlsplit_host(uri: str) -> str:
    return uri.split("://", 1)[-1]


def _huge(value: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    # Around and past the 4 KiB body cap (up to some 100 KB); repetition keeps generation cheap.
    return st.builds(lambda text, times: (text or "a")[:20] * times, value, st.sampled_from([50, 300, 5000]))


def parameter_values(cast: Cast) -> st.SearchStrategy[str | bytes]:
    return st.one_of(
        st.sampled_from([cast.client_id, cast.client_secret, *cast.audiences, *cast.scopes]),
        st.sampled_from(["client_credentials", "password", "refresh_token", "CLIENT_CREDENTIALS", ""]),
        st.lists(st.sampled_from(cast.scopes), min_size=2, max_size=3).map(" ".join),
        hostile_uris(cast),
        hostile_text,
        _huge(hostile_text),
        not_utf8,
    )


def _encode(value: str | bytes, how: str) -> bytes:
    raw = value if isinstance(value, bytes) else value.encode("utf-8")
    if how == "form":
        return quote_plus(raw).encode()
    if how == "every byte":
        return b"".join(b"%%%02X" % byte for byte in raw)
    return raw  # "raw": unescaped, '&' and '=' included


def _form(pairs: list[tuple[str | bytes, str | bytes]], how: str) -> bytes:
    return b"&".join(_encode(name, how) + b"=" + _encode(value, how) for name, value in pairs)


_FORM = b"application/x-www-form-urlencoded"
content_types = st.one_of(
    st.sampled_from(
        [
            _FORM + b"; charset=utf-8",
            _FORM + b';charset="UTF-8"',
            b"APPLICATION/X-WWW-FORM-URLENCODED",
            _FORM + b"; charset=latin-1",
            _FORM + b"; charset=utf-8; charset=utf-16",
            _FORM + b"; charset",
            _FORM + b" ;",
            b"application/json",
            b"multipart/form-data; boundary=x",
            b"text/plain",
            b"",
            b"*/*",
        ]
    ),
    st.builds(lambda junk: _FORM + b"; " + junk, not_utf8),
    hostile_text.map(str.encode),
    st.none(),  # no Content-Type at all
)


def _basic(user: bytes, password: bytes) -> bytes:
    return b"Basic " + base64.b64encode(user + b":" + password)


def authorizations(cast: Cast) -> st.SearchStrategy[bytes]:
    client_id, secret = cast.client_id.encode(), cast.client_secret.encode()
    text_or_bytes = st.one_of(hostile_text.map(str.encode), not_utf8)
    return st.one_of(
        st.just(_basic(quote_plus(cast.client_id).encode(), quote_plus(cast.client_secret).encode())),
        st.just(_basic(secret, client_id)),  # the pair the wrong way round: the secret is presented as an id
        st.just(_basic(secret, b"")),
        st.just(b"Basic " + base64.b64encode(secret)),  # no colon
        st.builds(_basic, text_or_bytes, text_or_bytes),
        st.builds(lambda blob: b"Basic " + base64.b64encode(blob), st.binary(max_size=60)),
        st.sampled_from(
            [
                b"Basic",
                b"Basic ",
                b"basic " + base64.b64encode(client_id + b":" + secret),
                b"BASIC  " + base64.b64encode(client_id + b":" + secret),
                b"Basic " + base64.b64encode(client_id + b":" + secret).rstrip(b"="),
                b"Basic " + base64.urlsafe_b64encode(b"\xfb\xff:\xfe"),
                b"Basic ====",
                b"Basic " + base64.b64encode(client_id + b":" + secret) * 2,
                b"Basic " + b"A" * 20000,
                b"Bearer " + secret,
                b"Digest username=x",
                b"Basic \xff\xfe",
            ]
        ),
    )


def _header_value(value: bytes) -> bytes:
    # A field value may hold obs-text (0x80-0xFF) and tabs but no other control: those are `malformed`.
    return value.translate(None, bytes([*range(0x09), *range(0x0A, 0x20), 0x7F]))


targets = st.sampled_from(
    [b"/o/token/", b"/%6F/token", b"/o/%74oken", b"/o/token%2F", b"http://127.0.0.1/o/token"]
)
queries = st.one_of(
    st.builds(lambda text: b"?" + quote(text, safe="=&").encode(), hostile_text),
    st.sampled_from([b"?", b"?%ff", b"?%00", b"?grant_type=client_credentials", b"?a=1&a=2", b"?%", b"?#"]),
)
methods = st.one_of(
    st.sampled_from(
        [b"post", b"Post", b"GET", b"HEAD", b"PUT", b"DELETE", b"PATCH", b"OPTIONS", b"TRACE", b"CONNECT"]
    ),
    st.text(
        "!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
        min_size=1,
        max_size=12,
    ).map(str.encode),
)
insane_request_ids = st.sampled_from(
    [b"a b", b"x" * 129, b"\xff\xfe", b"", b"../x", b"<script>", b"a\tb", b"\\u0000"]
)
extra_headers = st.lists(
    st.tuples(
        st.sampled_from([b"X-Forwarded-For", b"Accept-Charset", b"Cookie", b"X-Junk", b"Expect"]),
        st.one_of(hostile_text.map(str.encode), not_utf8),
    ),
    min_size=1,
    max_size=2,
)
_malformations = st.sampled_from(
    [
        b"\r\nX-Nul: a\x00b",
        b"\r\nX-Folded: a\r\n b",
        b"\r\nBad Header Name: x",
        b"\r\nX-Control: a\x01b",
        b"\r\n: no name",
    ]
)
encodings = st.sampled_from(["every byte", "raw"])


def token_requests(cast: Cast) -> st.SearchStrategy[HostileRequest]:
    """A good request with faults: each part is sound unless a draw says otherwise, so that most
    requests get far into the endpoint, and a shrunk example keeps only the faults that matter."""
    values = parameter_values(cast)
    uris = hostile_uris(cast)
    names = st.one_of(st.sampled_from(PARAMETERS), hostile_text)
    hostile_authorizations = st.lists(authorizations(cast), min_size=1, max_size=2)
    good_basic = _basic(quote_plus(cast.client_id).encode(), quote_plus(cast.client_secret).encode())
    other_bodies = st.one_of(
        st.binary(max_size=300),
        st.builds(
            lambda doc: json.dumps(doc).encode(), st.dictionaries(st.sampled_from(PARAMETERS), hostile_text)
        ),
    )

    @st.composite
    def build(draw: st.DrawFn) -> HostileRequest:
        def fault(percent: int) -> bool:
            return draw(st.integers(0, 99)) >= 100 - percent  # shrinks to 0: no fault

        headers: list[tuple[bytes, bytes]] = []
        content_type = draw(content_types) if fault(20) else _FORM
        if content_type is not None:
            headers.append((b"Content-Type", _header_value(content_type)))

        grant_type = draw(values) if fault(5) else "client_credentials"
        pairs: list[tuple[str | bytes, str | bytes]] = [("grant_type", grant_type)]
        credentials = draw(st.sampled_from(["basic", "post", "none"]))
        if credentials == "basic":
            headers.append((b"Authorization", good_basic))
        elif credentials == "post":
            client_id = draw(values) if fault(10) else cast.client_id
            secret = draw(values) if fault(10) else cast.client_secret
            pairs += [("client_id", client_id), ("client_secret", secret)]
        if fault(25):
            headers += [(b"Authorization", _header_value(value)) for value in draw(hostile_authorizations)]
        if draw(st.booleans()):
            pairs.append(("resource", draw(uris) if fault(30) else draw(st.sampled_from(cast.audiences))))
        if draw(st.booleans()):
            pairs.append(("scope", draw(values) if fault(10) else draw(st.sampled_from(cast.scopes))))
        for _ in range(draw(st.integers(0, 3)) if fault(50) else 0):
            kind = draw(st.sampled_from(["replace", "add", "repeat", "drop"]))
            index = draw(st.integers(0, len(pairs) - 1)) if pairs else 0
            if kind == "replace" and pairs:
                pairs[index] = (pairs[index][0], draw(values))
            elif kind == "add":
                pairs.append((draw(names), draw(values)))
            elif kind == "repeat" and pairs:
                pairs += [pairs[index]] * draw(st.sampled_from([1, 2, 63, 64, 500]))
            elif pairs:
                del pairs[index]
        body = _form(pairs, draw(encodings) if fault(10) else "form")
        if fault(5):
            body = draw(st.one_of(other_bodies, st.just(body + b"\x00" + body)))

        request_id = False
        if fault(10):
            headers.append((b"X-Request-ID", draw(insane_request_ids)))
        else:
            request_id = draw(st.booleans())
        if fault(10):
            headers += [(name, _header_value(value)) for name, value in draw(extra_headers)]
        target = draw(targets) if fault(15) else b"/o/token"
        if fault(10):
            target += draw(queries)
        if fault(3):
            target += b"\xff"  # not UTF-8 in the request line: the HTTP server refuses it
        return HostileRequest(
            method=draw(methods) if fault(10) else b"POST",
            target=target,
            version=b"HTTP/1.0" if fault(10) else b"HTTP/1.1",
            headers=tuple(headers),
            body=body,
            chunked=fault(10),
            request_id=request_id,
            malformed=draw(_malformations) if fault(4) else b"",
        )

    return build()


def known_faults(cast: Cast) -> list[HostileRequest]:
    """The shortest requests that showed each fault the fuzz has found, run first on every test run so
    that a fault found once is checked for ever, whatever the random examples happen to be."""
    form = ((b"Content-Type", _FORM),)
    good = form + (
        (
            b"Authorization",
            _basic(quote_plus(cast.client_id).encode(), quote_plus(cast.client_secret).encode()),
        ),
    )
    secret = quote_plus(cast.client_secret).encode()

    def post(
        headers: tuple[tuple[bytes, bytes], ...], body: bytes, method: bytes = b"POST"
    ) -> HostileRequest:
        return HostileRequest(
            method=method, target=b"/o/token", version=b"HTTP/1.1", headers=headers, body=body
        )

    grant = b"grant_type=client_credentials"
    return [
        # The pair the wrong way round: the secret presented as the client id.
        post(form + ((b"Authorization", _basic(secret, quote_plus(cast.client_id).encode())),), grant),
        post(form + ((b"Authorization", _basic(secret, b"")),), grant),
        # An unclosed IPv6 bracket: urlsplit raises ValueError.
        post(good, grant + b"&resource=https%3A%2F%2F%5B%3A%3A1"),
        # A refusal whose audit reason names a resource holding a NUL, or the text \u0000.
        post(good, grant + b"&resource=https%3A%2F%2F%00"),
        post(good, grant + b"&resource=https%3A%2F%2Fdoctors.internal%2F%5Cu0000"),
        # The client's own secret asked for as a scope, echoed in the refusal.
        post(good, grant + b"&scope=" + secret),
        # A method is case-sensitive: `post` is not POST.
        post(good, grant, method=b"post"),
    ]


# --- sending and judging -------------------------------------------------------------------------


@dataclass
class Answer:
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    error: str = ""  # the connection failed: no answer at all

    @property
    def from_application(self) -> bool:
        """Every answer Django gives carries the request id (authportal.middleware)."""
        return "x-request-id" in self.headers


def exchange(port: int, raw: bytes, *, timeout: float = 15) -> Answer:
    """Send one request as these bytes, read until the server closes the connection."""
    received = bytearray()
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as connection:
            with contextlib.suppress(OSError):  # the server may answer and close before it reads it all
                connection.sendall(raw)
            while chunk := connection.recv(65536):
                received += chunk
    except OSError as error:
        if b"\r\n\r\n" not in received:
            return Answer(status=0, error=repr(error))
    return parse_answer(bytes(received))


def parse_answer(received: bytes) -> Answer:
    head, _, body = received.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    try:
        status = int(lines[0].split(" ", 2)[1])
    except (IndexError, ValueError):
        return Answer(status=0, error=f"not an HTTP answer: {received[:200]!r}")
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    if headers.get("transfer-encoding", "").lower() == "chunked":
        body = _unchunk(body)
    return Answer(status=status, headers=headers, body=body)


def _unchunk(data: bytes) -> bytes:
    out = bytearray()
    while data:
        size_line, _, data = data.partition(b"\r\n")
        size = int(size_line.split(b";")[0] or b"0", 16)
        if size == 0:
            break
        out += data[:size]
        data = data[size + 2 :]
    return bytes(out)


@dataclass(frozen=True)
class AuditRow:
    id: int
    request_id: str
    who: str  # actor and subject
    details: str


def answer_problems(answer: Answer, *, method: bytes, request_id: str | None) -> list[str]:
    """What is wrong with this answer to one request; [] when all is well.

    Each problem is a short class name, the same for every instance of one fault, so that failures
    can be counted by class.
    """
    if answer.error:
        return ["no answer"]
    problems = []
    if answer.status >= 500:
        problems.append(f"{answer.status} answer")
    if not answer.from_application:
        # granian refused the request before the application saw it: it may, with a 4xx.
        if not 400 <= answer.status < 500:
            problems.append(f"the HTTP server answered {answer.status} itself")
        return problems
    if answer.headers.get("content-type") != "application/json":
        problems.append("not JSON")
    if "no-store" not in answer.headers.get("cache-control", ""):
        problems.append("no Cache-Control: no-store")
    if method != b"HEAD":
        try:
            document = json.loads(answer.body)
        except ValueError:
            document = None
        if not isinstance(document, dict):
            problems.append("a body that is not a JSON object")
        elif answer.status == 200:
            if not {"access_token", "token_type", "expires_in"} <= document.keys():
                problems.append("a 200 without a token")
        elif document.get("error") not in RFC6749_ERRORS or not isinstance(
            document.get("error_description"), str
        ):
            problems.append("not an RFC 6749 error")
    if method != b"POST" and answer.status != 405:
        problems.append("a method other than POST served")  # methods are case-sensitive: not even `post`
    if answer.status == 405 and answer.headers.get("allow") != "POST":
        problems.append("a 405 without Allow: POST")
    if request_id is not None and answer.headers["x-request-id"] != request_id:
        problems.append("the request id was not echoed")
    return problems


def audit_problems(answer: Answer, rows: list[AuditRow], *, secrets: Iterable[str]) -> list[str]:
    """Every answer the application gives has exactly one audit row, with its request id and no secret;
    a request the application never saw has none."""
    if not answer.from_application:
        return ["audit rows for a request the application never saw"] if rows else []
    problems = []
    if len(rows) != 1:
        problems.append(f"{len(rows)} audit rows ({answer.status} answer)")
    elif rows[0].request_id != answer.headers["x-request-id"]:
        problems.append("an audit row with another request id")
    if any(secret in row.who for row in rows for secret in secrets):
        problems.append("a client secret as an audit row's actor")
    if any(secret in row.details for row in rows for secret in secrets):
        problems.append("a client secret in an audit row's details")
    return problems
