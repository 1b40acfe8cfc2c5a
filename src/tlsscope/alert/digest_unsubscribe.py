"""The digest's one-click unsubscribe (RFC 8058): the signed token of its List-Unsubscribe
link, and the opt-out it records (web/unsubscribe.py asks and answers over HTTP).

    token(key, email, lang)          "<payload>.<mac>": the address and its language, signed
    signing_key(store)               the installation's signing key (made at its first use)
    unsubscribe_url(public_url, t)   the link in the digest ("" without public_url)
    reader(store, token)             the address and language a token names
    unsubscribe(store, token)        record the address's opt-out; a user's digest is none

A token that was cut or changed is `Invalid`: the MAC (HMAC-SHA256, salted for this use)
is checked before anything in it is believed.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import hmac
import logging
import secrets as random

from tlsscope.alert.words import DEFAULT, LANGS
from tlsscope.errors import Invalid
from tlsscope.store import Store, accounts, digest_rows

_SALT = b"tlsscope digest unsubscribe\x00"
log = logging.getLogger("tlsscope.alerts")


def signing_key(store: Store) -> bytes:
    return store.write(digest_rows.secret, "digest", random.token_hex(32)).encode()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def token(key: bytes, email: str, lang: str) -> str:
    """"<payload>.<mac>": the address and its language, signed (HMAC-SHA256)."""
    payload = f"{lang}:{email.lower()}".encode()
    return f"{_b64(payload)}.{_b64(hmac.new(key, _SALT + payload, hashlib.sha256).digest())}"


def _verified(key: bytes, text: str) -> tuple[str, str]:
    bad = Invalid("t", "this unsubscribe link is not valid: it was cut or changed")
    payload_text, _, mac_text = text.partition(".")
    if not payload_text or not mac_text or len(text) > 1200:
        raise bad
    try:
        payload = base64.urlsafe_b64decode(payload_text + "=" * (-len(payload_text) % 4))
        mac = base64.urlsafe_b64decode(mac_text + "=" * (-len(mac_text) % 4))
    except (binascii.Error, ValueError):
        raise bad from None
    if not hmac.compare_digest(mac, hmac.new(key, _SALT + payload, hashlib.sha256).digest()):
        raise bad
    lang, _, email = payload.decode("utf-8", "replace").partition(":")
    if "@" not in email:
        raise bad
    return email, lang if lang in LANGS else DEFAULT


def unsubscribe_url(public_url: str, signed: str) -> str:
    base = public_url.rstrip("/")
    return f"{base}/digest/unsubscribe?t={signed}" if base else ""


def reader(store: Store, signed: str) -> tuple[str, str]:
    """The address and language a token names; `Invalid` for a forged or cut one."""
    return _verified(signing_key(store), signed)


def unsubscribe(store: Store, signed: str, now: dt.datetime | None = None) -> tuple[str, str]:
    """Record the opt-out of the address the token names (RFC 8058 one-click): it gets no
    more digests (a user's subscription becomes none, as their Settings page then says).
    Returns (address, language)."""
    email, lang = reader(store, signed)
    store.write(digest_rows.opt_out, email, now or dt.datetime.now(dt.UTC))
    user = store.read(accounts.find_user, email)
    if user is not None:
        store.write(digest_rows.set_digest, user.id, "")
    log.info("digest unsubscribed", extra={"fields": {"email": email}})
    return email, lang

