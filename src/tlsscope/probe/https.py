"""Fetch an MTA-STS policy over HTTPS the way RFC 8461 §3.3 tells senders to: from a given
address with SNI and certificate checks for the policy host, no redirects followed, no cache,
a timeout and a size cap. The result says what happened; nothing here raises for a remote
server's behaviour."""

from __future__ import annotations

import ssl
from typing import NamedTuple

import httpx

from tlsscope.probe import connect

MAX_POLICY_BYTES = 64 * 1024  # RFC 8461 §3.3 suggests 64 KB
POLICY_PATH = "/.well-known/mta-sts.txt"


class PolicyFetch(NamedTuple):
    address: str
    status_code: int | None  # None: no HTTP answer (see error)
    content_type: str
    body: bytes
    error: str  # "" when an HTTP answer came
    tls_error: bool  # the failure was the certificate or the TLS handshake
    location: str  # a redirect's target, if one was answered
    oversize: bool
    certificate: bytes = b""  # the policy host's certificate (DER), when TLS was set up


def _url(address: str, port: int, path: str, allow_private: bool) -> str:
    """The URL of `path` at the checked address itself (connect.refused's rule), so that the
    connection goes there and nowhere a second resolution would send it."""
    why = connect.refused(address, allow_private)
    if why:
        raise connect.Refused(why)
    ip = connect.literal(address)
    literal = f"[{ip}]" if ip is not None and ip.version == 6 else str(ip)
    return f"https://{literal}:{port}{path if path.startswith('/') else '/' + path}"


def _context(verify: str | bool) -> ssl.SSLContext | bool:
    if not verify:
        return False
    context = ssl.create_default_context(cafile=verify if isinstance(verify, str) else None)
    if isinstance(verify, str):
        context.load_default_certs()
    return context


def options(host: str, address: str, port: int, path: str, timeout: float,
            verify: str | bool, allow_private: bool) -> int:
    """OPTIONS https://host:port/path at `address`, Host and SNI `host`, no redirect followed:
    the HTTP status (an https `rua` is reachable). Raises httpx.HTTPError or connect.Refused."""
    url = _url(address, port, path, allow_private)
    with httpx.Client(verify=_context(verify), timeout=timeout, follow_redirects=False,
                      trust_env=False) as client:
        answer = client.request("OPTIONS", url, headers={"Host": host},
                                extensions={"sni_hostname": host})
        return answer.status_code


def fetch_policy(host: str, address: str, port: int = 443, timeout: float = 10.0,
                 verify: str | bool = True, allow_private: bool = False) -> PolicyFetch:
    """GET https://host/.well-known/mta-sts.txt, connecting to `address` (an A or AAAA)."""
    try:
        url = _url(address, port, POLICY_PATH, allow_private)
    except connect.Refused as exc:
        return PolicyFetch(address, None, "", b"", str(exc), False, "", False)
    try:
        with httpx.Client(verify=_context(verify), timeout=timeout, follow_redirects=False,
                          trust_env=False) as client:
            with client.stream("GET", url, headers={"Host": host, "Cache-Control": "no-cache"},
                               extensions={"sni_hostname": host}) as answer:
                certificate = _peer_certificate(answer)
                body = b""
                oversize = False
                for chunk in answer.iter_bytes():
                    body += chunk
                    if len(body) > MAX_POLICY_BYTES:
                        oversize = True
                        body = body[:MAX_POLICY_BYTES]
                        break
                return PolicyFetch(address, answer.status_code,
                                   answer.headers.get("content-type", ""), body, "", False,
                                   answer.headers.get("location", ""), oversize, certificate)
    except httpx.HTTPError as exc:
        cause = exc.__context__ or exc.__cause__
        tls = isinstance(cause, ssl.SSLError) or "CERTIFICATE" in str(exc).upper() \
            or "SSL" in str(exc).upper()
        return PolicyFetch(address, None, "", b"", f"{type(exc).__name__}: {exc}"[:300], tls,
                           "", False)


def _peer_certificate(answer: httpx.Response) -> bytes:
    """The server's certificate (DER) from the connection the answer came on; b"" if hidden."""
    stream = answer.extensions.get("network_stream")
    tls = stream.get_extra_info("ssl_object") if stream is not None else None
    if tls is None:
        return b""
    try:
        # The low-level object takes the flag positionally only.
        return bytes(tls.getpeercert(True) or b"")
    except (ValueError, TypeError, ssl.SSLError):
        return b""
