"""Where an alert may be delivered: a check of the target, and a connection to what was checked.

A monitor's channel URL is data anyone who can create a monitor may write,
and the process that delivers alerts often runs on a cloud machine whose
metadata service (``169.254.169.254`` and friends) hands out credentials to
whoever asks. So a target is checked the way it will be reached:

- its host is decoded once and normalised (IDNA, so fullwidth digits read as ``169.254.169.254``
  are that address), then resolved with the system resolver, which also
  reads hex, decimal, octal and short IPv4 spellings (``0xa9fea9fe``,
  ``2852039166``, ``0251.0376.0251.0376``, ``169.254.43518``);
- every address it resolves to is checked: link-local (``169.254.0.0/16``,
  ``fe80::/10``) and the cloud metadata addresses in ``METADATA_ADDRESSES``
  are refused, also when an IPv6 address carries one inside it
  (``::ffff:169.254.169.254``, NAT64, 6to4, Teredo, IPv4-compatible);
- when an allow-list is set (``STEWARD_ALERT_ALLOWED_HOSTS`` or
  ``alert_allowed_hosts`` in ``$STEWARD_HOME/config.toml``), the host must be
  on it, by name or by address;
- the connection then goes to one of the addresses that were checked (no
  second lookup that a rebinding DNS server could answer differently), with
  the name kept for the ``Host`` header, TLS SNI and certificate checks;
- redirects are not followed.

Loopback and private addresses stay allowed: offline sites deliver to a
relay on the same machine or the local network.
"""

from __future__ import annotations

import base64
import contextlib
import http.client
import ipaddress
import smtplib
import socket
import ssl
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

from steward.errors import InvalidInput

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

LINK_LOCAL = (ipaddress.ip_network("169.254.0.0/16"), ipaddress.ip_network("fe80::/10"))
METADATA_ADDRESSES = (
    ipaddress.ip_network("fd00:ec2::254/128"),  # AWS instance metadata over IPv6
    ipaddress.ip_network("100.100.100.200/32"),  # Alibaba Cloud metadata
    ipaddress.ip_network("168.63.129.16/32"),  # Azure wire server
    ipaddress.ip_network("192.0.0.192/32"),  # Oracle Cloud metadata (legacy)
)
"""Metadata services outside the link-local ranges (AWS, GCP, Azure IMDS and most
others answer on ``169.254.169.254``, which ``LINK_LOCAL`` covers)."""

_NAT64 = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))
_MAX_RESPONSE_BYTES = 64 * 1024


class TargetRefused(InvalidInput):
    """An alert target is not allowed: the message names the host, the address and the rule."""


class TargetUnresolved(InvalidInput):
    """An alert target's name does not resolve (now); delivery fails until it does."""


@dataclass(frozen=True)
class Target:
    """A checked host: its normalised name, port and the addresses that passed the check."""

    host: str
    port: int
    addresses: tuple[str, ...]


def _embedded_ipv4(address: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """IPv4 addresses an IPv6 address stands for (mapped, compatible, NAT64, 6to4, Teredo)."""
    found: list[ipaddress.IPv4Address] = []
    if address.ipv4_mapped is not None:
        found.append(address.ipv4_mapped)
    if address.sixtofour is not None:
        found.append(address.sixtofour)
    if address.teredo is not None:
        found.extend(address.teredo)
    packed = address.packed
    if packed[:12] == bytes(12) and int(address) > 1:  # ::a.b.c.d, IPv4-compatible
        found.append(ipaddress.IPv4Address(packed[12:]))
    if address in _NAT64[0]:
        found.append(ipaddress.IPv4Address(packed[12:]))
    elif address in _NAT64[1]:  # RFC 6052 /48: octets around the reserved byte 8
        found.append(ipaddress.IPv4Address(packed[6:8] + packed[9:11]))
    return found


def refusal(address: IPAddress) -> str | None:
    """Why ``address`` may never receive alerts (a phrase naming it), or None when it may."""
    candidates: list[IPAddress] = [address]
    if isinstance(address, ipaddress.IPv6Address):
        candidates += _embedded_ipv4(address)
    for candidate in candidates:
        shown = str(address) if candidate == address else f"{address} (which carries {candidate})"
        for network in LINK_LOCAL:
            if candidate.version == network.version and candidate in network:
                return f"{shown} is link-local ({network}), where cloud metadata services answer"
        for network in METADATA_ADDRESSES:
            if candidate.version == network.version and candidate in network:
                return f"{shown} is a cloud metadata address"
    return None


def normalise_host(host: str) -> str:
    """The host as the resolver will see it: percent-decoded once, IDNA-encoded, lower case.

    Raises:
        TargetRefused: the host is empty or not a valid name or address.
    """
    text = unquote(host).strip().rstrip(".").lower()
    literal = text.split("%", 1)[0]
    if ":" in literal:  # an IPv6 literal (urlsplit took off the brackets)
        try:
            return str(ipaddress.IPv6Address(literal))
        except ValueError:
            raise TargetRefused(
                f"alert target host {host!r} is not a valid IPv6 address."
            ) from None
    try:
        ascii_host = text.encode("idna").decode("ascii")
    except UnicodeError:
        raise TargetRefused(f"alert target host {host!r} is not a valid host name.") from None
    labels = ascii_host.split(".")
    if not ascii_host or not all(
        0 < len(label) <= 63 and all(c.isalnum() or c in "-_" for c in label) for label in labels
    ):
        raise TargetRefused(f"alert target host {host!r} is not a valid host name.")
    return ascii_host


def allowed_hosts() -> tuple[str, ...]:
    """The allow-list in force (empty: every host that passes the address check)."""
    from steward.config import resolve_settings

    return resolve_settings().alert_allowed_hosts


def _on_allow_list(host: str, addresses: Sequence[IPAddress], entries: Sequence[str]) -> bool:
    networks = []
    for entry in entries:
        name = entry.strip().lower().rstrip(".")
        if not name:
            continue
        try:
            networks.append(ipaddress.ip_network(name, strict=False))
            continue
        except ValueError:
            pass
        if name == host or (name.startswith("*.") and host.endswith(name[1:])):
            return True
    return bool(networks) and all(any(a in net for net in networks) for a in addresses)


def resolve_target(host: str, port: int, *, allow: Sequence[str] | None = None) -> Target:
    """Resolve ``host`` once and check every address it has.

    Args:
        host: a name or an address, in any spelling the system resolver reads.
        port: the port that will be connected to.
        allow: the allow-list (default: ``allowed_hosts()``).

    Returns:
        The checked target; connect only to its ``addresses``.

    Raises:
        TargetRefused: an address is link-local or a metadata address, or the
            host is not on the allow-list.
        TargetUnresolved: the name does not resolve.
    """
    name = normalise_host(host)
    try:
        infos = socket.getaddrinfo(name, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise TargetUnresolved(f"alert target host {name!r} does not resolve ({exc}).") from None
    addresses: list[IPAddress] = []
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
        reason = refusal(address)
        if reason is not None:
            resolved = "" if name == str(address) else f" (it resolves to {address})"
            raise TargetRefused(
                f"alert target {name!r}{resolved} is refused: {reason}. Alerts never go to "
                "link-local or metadata addresses; give the address of your webhook or mail "
                "relay."
            )
        if address not in addresses:
            addresses.append(address)
    entries = allowed_hosts() if allow is None else allow
    if entries and not _on_allow_list(name, addresses, entries):
        raise TargetRefused(
            f"alert target {name!r} ({', '.join(map(str, addresses))}) is not on the "
            f"allow-list ({', '.join(entries)}); add it to STEWARD_ALERT_ALLOWED_HOSTS "
            "or alert_allowed_hosts in config.toml."
        )
    return Target(name, port, tuple(str(a) for a in addresses))


def check_target(host: str, port: int) -> None:
    """Refuse a target at creation: a refused address now is refused; a name that does
    not resolve is let through (an offline laptop), to be checked again at delivery.

    Raises:
        TargetRefused: the target resolves to a refused address or is off the allow-list.
    """
    with contextlib.suppress(TargetUnresolved):
        resolve_target(host, port)


def split_url(url: str) -> tuple[str, str, int, str, str | None]:
    """(scheme, host, port, path with query, ``user:password`` or None) of an http(s) URL.

    Raises:
        InvalidInput: not an http(s) URL with a host, or a bad port.
    """
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError as exc:
        raise InvalidInput(f"alert URL {url!r} is malformed: {exc}.") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidInput(f"webhook URL must start with http:// or https://, not {url!r}.")
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    credentials = None
    if parts.username is not None:
        credentials = f"{unquote(parts.username)}:{unquote(parts.password or '')}"
    default = 443 if parts.scheme == "https" else 80
    return parts.scheme, parts.hostname, port or default, path, credentials


def connect(target: Target, timeout: float) -> socket.socket:
    """A TCP connection to the first of the target's checked addresses that answers.

    Raises:
        OSError: none of them could be reached.
    """
    error: OSError | None = None
    for address in target.addresses:
        try:
            return socket.create_connection((address, target.port), timeout=timeout)
        except OSError as exc:
            error = exc
    raise error or OSError(f"{target.host} has no address to connect to")


class _PinnedHTTP(http.client.HTTPConnection):
    def __init__(self, target: Target, timeout: float) -> None:
        super().__init__(target.host, target.port, timeout=timeout)
        self._target = target

    def connect(self) -> None:
        self.sock = connect(self._target, self.timeout)  # type: ignore[arg-type]


class _PinnedHTTPS(http.client.HTTPSConnection):
    def __init__(self, target: Target, timeout: float) -> None:
        self._tls = ssl.create_default_context()
        super().__init__(target.host, target.port, timeout=timeout, context=self._tls)
        self._target = target

    def connect(self) -> None:
        raw = connect(self._target, self.timeout)  # type: ignore[arg-type]
        self.sock = self._tls.wrap_socket(raw, server_hostname=self._target.host)


def post_json(url: str, body: bytes, timeout: float, headers: dict[str, str]) -> None:
    """POST a JSON body to ``url`` through a checked, pinned connection.

    Raises:
        TargetRefused: the target is not allowed (checked now, at delivery).
        TargetUnresolved: its name does not resolve.
        OSError: the connection failed, or the answer was not 2xx (a redirect included).
    """
    scheme, host, port, path, credentials = split_url(url)
    target = resolve_target(host, port)
    connection: http.client.HTTPConnection = (
        _PinnedHTTPS(target, timeout) if scheme == "https" else _PinnedHTTP(target, timeout)
    )
    sent = {"Content-Type": "application/json", **headers}
    if credentials is not None:
        token = base64.b64encode(credentials.encode()).decode()
        sent.setdefault("Authorization", f"Basic {token}")
    try:
        connection.request("POST", path, body=body, headers=sent)
        response = connection.getresponse()
        response.read(_MAX_RESPONSE_BYTES)
        status = response.status
        location = response.getheader("Location")
    finally:
        connection.close()
    shown = f"{scheme}://{host}:{port}{path.split('?', 1)[0]}"
    if 300 <= status < 400:
        raise OSError(
            f"{shown} answered HTTP {status} (a redirect to {location!r}); redirects are "
            "not followed: give the final URL."
        )
    if not 200 <= status < 300:
        raise OSError(f"{shown} answered HTTP {status}")


class PinnedSMTP(smtplib.SMTP):
    """An SMTP client that connects to a checked target's addresses (STARTTLS keeps the name)."""

    def __init__(self, target: Target, timeout: float) -> None:
        self._target = target
        super().__init__(timeout=timeout)
        self.connect(target.host, target.port)

    def _get_socket(self, host: str, port: int, timeout: float) -> Any:
        return connect(self._target, timeout)
