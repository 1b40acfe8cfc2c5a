"""accept_domains (pipeline.DomainGate): domains compared as reports name them (A-labels)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tlsscope.parse import read_input
from tlsscope.pipeline import DomainGate
from tlsscope.settings import Settings

FIX = Path(__file__).parent / "fixtures"


def _for(domain: str) -> Any:
    doc = json.loads((FIX / "real" / "rfc8460-appendix-example.json").read_bytes())
    for entry in doc["policies"]:
        entry["policy"]["policy-domain"] = domain
    return read_input(json.dumps(doc).encode(), "x")


def test_a_u_label_in_accept_domains_accepts_its_own_reports() -> None:
    gate = DomainGate(Settings(accept_domains=["Bücher.Example.", "victim.example"]))
    store: Any = None  # a fixed list never reads the store
    assert gate.refusal(store, _for("xn--bcher-kva.example")) is None
    assert gate.refusal(store, _for("bücher.example")) is None
    assert gate.refusal(store, _for("VICTIM.example.")) is None
    refused = gate.refusal(store, _for("other.example"))
    assert refused is not None and "'other.example'" in refused
