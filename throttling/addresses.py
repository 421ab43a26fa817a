"""Which address a request counts as coming from: the peer, or what trusted proxies say it was.

Only when the peer is one of `AUTHPORTAL_TRUSTED_PROXIES` is `X-Forwarded-For` read, from the right:
each address a trusted proxy appended is skipped, and the first one that is not a trusted proxy is
the client's. Anything a client wrote itself sits to the left of that and is never believed.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from functools import cache

from core.conf import app_settings

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@cache
def _trusted(proxies: tuple[str, ...]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(proxy, strict=False) for proxy in proxies)


def _is_trusted(address: str, networks: tuple[Network, ...]) -> bool:
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(parsed in network for network in networks)


def client_address(meta: Mapping[str, object]) -> str:
    """The address limits count against, from a request's META."""
    peer = str(meta.get("REMOTE_ADDR") or "")
    networks = _trusted(tuple(app_settings.TRUSTED_PROXIES))
    if not networks or not _is_trusted(peer, networks):
        return peer
    forwarded = [hop.strip() for hop in str(meta.get("HTTP_X_FORWARDED_FOR") or "").split(",")]
    for hop in reversed(forwarded):
        if not hop:
            continue
        if not _is_trusted(hop, networks):
            try:
                return str(ipaddress.ip_address(hop))
            except ValueError:
                return peer  # a proxy we trust would not write that: count the proxy itself
    return peer
