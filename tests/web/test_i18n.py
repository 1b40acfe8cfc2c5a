"""The dashboard's words (web/i18n.py), no server: both languages, every word a template
uses, the language chosen from the user's setting or the browser's, numbers written the
language's way."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tlsscope.alert import rules, timing
from tlsscope.web import i18n

TEMPLATES = Path(__file__).parents[2] / "src" / "tlsscope" / "web" / "templates"


def test_both_languages_have_the_same_words() -> None:
    assert set(i18n.table("en")) == set(i18n.table("pt"))
    for key, text in i18n.table("en").items():
        other = i18n.table("pt")[key]
        assert set(re.findall(r"{(\w+)}", text)) == set(re.findall(r"{(\w+)}", other)), key


def test_every_word_a_template_uses_exists() -> None:
    used = set()
    for template in TEMPLATES.glob("*.html"):
        used |= set(re.findall(r"""w\(["']([a-z_.-]+)["']\s*[,)]""", template.read_text()))
    # Keys made from a prefix and a value: every value must have its words.
    used |= {f"severity.{s}" for s in ("critical", "high", "medium", "info")}
    used |= {f"status.{s}" for s in ("open", "likely-fixed", "resolved")}
    used |= {f"check.{s}" for s in ("ok", "warning", "error")}
    used |= {f"domain.by_{s}" for s in ("mx", "reporter", "result_type", "policy")}
    used |= {f"quarantine.{s}" for s in ("accepted", "still_rejected", "missing")}
    used |= {f"alerts.channel_{c}" for c in rules.CHANNELS}
    used |= {f"alerts.sev_{s}" for s in rules.MIN_SEVERITIES}
    used |= {f"alerts.batch_{b}" for b in timing.BATCHES}
    used |= {f"alerts.lang_{lang}" for lang in rules.LANGS}
    used |= {f"alerts.state_{s}" for s in ("pending", "sending", "delivered", "failed")}
    used |= {f"alerts.outcome_{s}" for s in ("delivered", "retry", "failed")}
    used |= {f"settings.digest_{p}" for p in ("none", "day", "week", "month")}
    known = set(i18n.table("en"))
    assert len(used) > 100 and used <= known, sorted(used - known)


@pytest.mark.parametrize(("user", "header", "expected"), [
    ("pt", "en-US,en;q=0.9", "pt"),
    ("", "pt-BR,pt;q=0.9,en;q=0.8", "pt"),
    ("", "de-DE,de;q=0.9,pt;q=0.5,en;q=0.4", "pt"),
    ("", "en;q=0.2, pt;q=0.8", "pt"),
    ("", "fr", "en"),
    ("", "", "en"),
    ("", "pt;q=nonsense, en", "en"),
])
def test_language_choice(user: str, header: str, expected: str) -> None:
    assert i18n.choose(user, header) == expected


def test_numbers_are_written_the_languages_way() -> None:
    assert i18n.Words("en").number(1234567) == "1,234,567"
    assert i18n.Words("pt").number(1234567) == "1.234.567"
    assert i18n.Words("pt").number(99.5) == "99,5"
