"""Connections counted per client address (receive/address_cap.py)."""

from __future__ import annotations

import pytest

from tlsscope.clients import client_key
from tlsscope.receive.address_cap import AddressCap, networks

pytestmark = pytest.mark.server


def test_a_client_is_its_ipv4_address_or_its_ipv6_64() -> None:
    assert client_key("192.0.2.7") == "192.0.2.7"
    assert client_key("::ffff:192.0.2.7") == "192.0.2.7"
    assert client_key("2001:db8:1:2:aaaa::1") == client_key("[2001:db8:1:2:ffff::9]")
    assert client_key("2001:db8:1:2:aaaa::1") == "2001:db8:1:2::/64"
    assert client_key("2001:db8:1:3::1") != client_key("2001:db8:1:2::1")
    assert client_key("not an address") == "not an address"


def test_the_cap_counts_open_connections_and_frees_closed_ones() -> None:
    cap = AddressCap(2)
    assert cap.take("192.0.2.7") and cap.take("::ffff:192.0.2.7")
    assert not cap.take("192.0.2.7")  # the third
    assert cap.take("192.0.2.8")
    cap.give("192.0.2.7")
    assert cap.take("192.0.2.7")
    for _ in range(2):
        cap.give("192.0.2.7")
    cap.give("192.0.2.8")
    assert cap.open == {}


def test_trusted_proxies_and_a_cap_of_zero_are_not_counted() -> None:
    every, trusted = networks("127.0.0.1, 10.0.0.0/8,::1, unix:/run/x")
    assert not every and len(trusted) == 3
    cap = AddressCap(1, trusted)
    assert all(cap.take("10.1.2.3") for _ in range(5))
    assert all(cap.take("::ffff:127.0.0.1") for _ in range(5))
    assert cap.take("192.0.2.7") and not cap.take("192.0.2.7")
    assert AddressCap(1, exempt_all=networks("*")[0]).take("192.0.2.7")
    unlimited = AddressCap(0)
    assert all(unlimited.take("192.0.2.7") for _ in range(5)) and unlimited.open == {}
