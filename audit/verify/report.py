"""What a verification found, and the checks of a checkpoint that the database walk and the file check share."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from audit import chain


@dataclass(frozen=True)
class Finding:
    kind: str  # altered, inserted, deleted, checkpoint, unsealed
    message: str
    event_id: int | None = None
    seq: int | None = None


@dataclass
class VerifyReport:
    checkpoints: int = 0
    events: int = 0
    unsealed: int = 0  # events newer than the last seal: not yet covered by a signature
    problems: list[Finding] = field(default_factory=list)
    limit: int = 20

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def full(self) -> bool:
        return len(self.problems) >= self.limit

    def add(self, kind: str, message: str, *, event_id: int | None = None, seq: int | None = None) -> None:
        if not self.full:
            self.problems.append(Finding(kind, message, event_id, seq))


def checkpoint_signed(
    checkpoint: dict[str, Any], public_jwk: dict[str, Any] | None, report: VerifyReport
) -> dict[str, Any] | None:
    seq = checkpoint["seq"]
    if public_jwk is None:
        report.add("checkpoint", f"checkpoint {seq}: no public key for kid {checkpoint['kid']!r}", seq=seq)
        return None
    try:
        return chain.checkpoint_verify(checkpoint["jws"], public_jwk=public_jwk)
    except chain.SignatureInvalid as exc:
        report.add("checkpoint", f"checkpoint {seq}: signature does not verify ({exc})", seq=seq)
        return None


def leaves_match(payload: dict[str, Any], leaves: bytes, report: VerifyReport) -> bool:
    seq = payload["seq"]
    if (
        len(leaves) != 32 * payload["event_count"]
        or chain.chain_head(payload["prev_head"], leaves) != payload["head"]
    ):
        report.add(
            "checkpoint", f"checkpoint {seq}: its stored leaf hashes do not chain to its signed head", seq=seq
        )
        return False
    return True


def chain_link(
    previous: dict[str, Any] | None, payload: dict[str, Any], *, purged: bool, report: VerifyReport
) -> None:
    seq = payload["seq"]
    if previous is None:
        if seq == 1 and payload["prev_head"] != chain.GENESIS:
            report.add("checkpoint", "checkpoint 1 does not start from the genesis head", seq=seq)
        elif seq != 1 and not purged:
            report.add("deleted", f"checkpoints before {seq} are missing (and not purged)", seq=seq)
        return
    if seq != previous["seq"] + 1:
        report.add("deleted", f"checkpoints {previous['seq'] + 1}–{seq - 1} are missing", seq=seq)
    elif payload["prev_head"] != previous["head"] or payload["first_id"] != previous["last_id"] + 1:
        report.add(
            "checkpoint", f"checkpoint {seq} does not chain from checkpoint {previous['seq']}", seq=seq
        )
