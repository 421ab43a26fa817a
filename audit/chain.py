"""The tamper-evidence format, with no database: leaf hashes, the chain, and the checkpoint signature.

Shared by sealing (database), `verify_audit` (database) and `verify_audit --file` (an export, offline),
so that all three agree byte for byte. Version 1:

    leaf(event) = SHA-256 of the UTF-8 JSON array, sorted keys, no whitespace, non-ASCII kept:
                  [1, id, occurred_at, event, outcome, actor, subject, remote_addr, request_id, details]
                  (EventRow: a new column changes every leaf, so it comes with a new VERSION)
                  occurred_at as "YYYY-MM-DDTHH:MM:SS.ffffffZ" (UTC), remote_addr null when absent
    head        = h_n where h_0 = prev_head (bytes) and h_i = SHA-256(h_{i-1} || leaf_i), in id order;
                  the first checkpoint's prev_head is 64 zeros
    checkpoint  = JWS compact (RFC 7515) over the payload below, header {alg, kid, typ}, signed with the
                  token-signing key that was active (a CheckpointSigner, passed in: audit imports no
                  app of ours); kid is the key's RFC 7638 thumbprint
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import Any, NamedTuple, Protocol

from jwcrypto.common import base64url_decode
from jwcrypto.jwk import JWK
from jwcrypto.jws import JWS, InvalidJWSSignature

VERSION = 1
GENESIS = "0" * 64
CHECKPOINT_TYP = "authportal-audit-checkpoint+jws"
_canonical = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode


def time_canonical(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class EventRow(NamedTuple):
    """One audit event's values, in the leaf's order: the one place an event's columns are named.

    They are `AuditEvent`'s columns (`audit.checks` and tests/audit/test_event_columns.py hold the
    two together): sealing and verification read rows as `values_list(*EVENT_COLUMNS)`, both write
    paths (audit/recording.py, audit/inflight.py) write every column after the id, and the exports
    write them in this order.
    """

    id: int | None  # None until the row is written
    occurred_at: datetime | str  # a datetime from the database; canonical text (time_canonical) in a file
    event: str
    outcome: str
    actor: str
    subject: str
    remote_addr: str | None
    request_id: str
    details: Any  # the parsed JSON


EVENT_COLUMNS: tuple[str, ...] = EventRow._fields


def leaf_hash(row: EventRow) -> bytes:
    """The leaf of one event: every column, the time in its canonical text, no address as null."""
    occurred_at = row.occurred_at if isinstance(row.occurred_at, str) else time_canonical(row.occurred_at)
    values = [VERSION, *row._replace(occurred_at=occurred_at, remote_addr=row.remote_addr or None)]
    return hashlib.sha256(_canonical(values).encode()).digest()


def chain_head(prev_head: str, leaves: bytes) -> str:
    h = bytes.fromhex(prev_head)
    for offset in range(0, len(leaves), 32):
        h = hashlib.sha256(h + leaves[offset : offset + 32]).digest()
    return h.hex()


def ranges_from_ids(ids: Iterable[int]) -> list[list[int]]:
    """[[lo, hi], …] for sorted ids: a compact form of id sets that are nearly contiguous."""
    ranges: list[list[int]] = []
    for value in ids:
        if ranges and value == ranges[-1][1] + 1:
            ranges[-1][1] = value
        else:
            ranges.append([value, value])
    return ranges


def in_ranges(value: int, ranges: list[list[int]]) -> bool:
    return any(lo <= value <= hi for lo, hi in ranges)


def covered_ids(*, first_id: int, last_id: int, gaps: list[list[int]], late_ids: list[int]) -> Iterator[int]:
    """The ids a checkpoint seals, in chain order (ascending: late ids all precede first_id)."""
    yield from late_ids
    position = first_id
    for lo, hi in gaps:
        yield from range(position, lo)
        position = hi + 1
    yield from range(position, last_id + 1)


def position_of(
    event_id: int, *, first_id: int, last_id: int, gaps: list[list[int]], late_ids: list[int]
) -> int | None:
    """Where an event's leaf sits in its checkpoint, or None if the checkpoint does not seal that id."""
    if event_id < first_id:
        try:
            return late_ids.index(event_id)
        except ValueError:
            return None
    if event_id > last_id:
        return None
    skipped = 0
    for lo, hi in gaps:
        if event_id < lo:
            break
        if event_id <= hi:
            return None
        skipped += hi - lo + 1
    return len(late_ids) + event_id - first_id - skipped


def checkpoint_payload(
    *,
    seq: int,
    sealed_at: str,
    first_id: int,
    last_id: int,
    gaps: list[list[int]],
    late_ids: list[int],
    event_count: int,
    min_occurred_at: str,
    max_occurred_at: str,
    prev_head: str,
    head: str,
) -> dict[str, Any]:
    return {
        "v": VERSION,
        "seq": seq,
        "sealed_at": sealed_at,
        "first_id": first_id,
        "last_id": last_id,
        "gaps": gaps,
        "late_ids": late_ids,
        "event_count": event_count,
        "min_occurred_at": min_occurred_at,
        "max_occurred_at": max_occurred_at,
        "prev_head": prev_head,
        "head": head,
    }


def checkpoint_sign(payload: dict[str, Any], *, signer: CheckpointSigner) -> str:
    """The checkpoint as a compact JWS. The header's typ keeps it from ever passing for an access token
    (RFC 9068 wants at+jwt)."""
    return signer.compact_jws(_canonical(payload).encode(), typ=CHECKPOINT_TYP)


class CheckpointSigner(Protocol):
    """What signs checkpoints: the active token-signing key (`keys.tokens.Signer`), passed in by the caller.

    Its public half is stored with each checkpoint and its kid is in our JWKS, so an auditor can check
    the kid independently.
    """

    @property
    def kid(self) -> str: ...

    @property
    def public_jwk(self) -> dict[str, str]: ...

    def compact_jws(self, payload: bytes, *, typ: str) -> str: ...


class SignatureInvalid(Exception):
    pass


def jws_kid(jws: str) -> str:
    try:
        return str(json.loads(base64url_decode(jws.split(".", 1)[0])).get("kid", ""))
    except (ValueError, AttributeError):
        return ""


def checkpoint_verify(jws: str, *, public_jwk: dict[str, Any]) -> dict[str, Any]:
    """The signed payload, after checking the signature and that the key is the one the kid names."""
    key = JWK(**public_jwk)
    try:
        protected = json.loads(base64url_decode(jws.split(".", 1)[0]))
    except (ValueError, IndexError):
        raise SignatureInvalid("not a JWS compact serialization") from None
    if protected.get("typ") != CHECKPOINT_TYP:
        raise SignatureInvalid(f"unexpected typ {protected.get('typ')!r}")
    if protected.get("kid") != key.thumbprint():
        raise SignatureInvalid("the kid is not the RFC 7638 thumbprint of the public key given")
    token = JWS()
    try:
        token.deserialize(jws)
        token.verify(key, alg=public_jwk.get("alg") or protected.get("alg"))
    except InvalidJWSSignature:
        raise SignatureInvalid("bad signature") from None
    except Exception as exc:  # jwcrypto raises a few unrelated types for malformed input
        raise SignatureInvalid(f"cannot verify: {exc}") from None
    payload: dict[str, Any] = json.loads(token.payload)
    return payload
