"""The catalog: what each failure means, what it does to mail, why it happens, how to fix it.

Data, not code: `entries.toml` (per RFC 8460 §4.3 result type: RFC section, severity by
policy mode, likely causes in order), `reasons.toml` (free-text failure-reason-code patterns
→ causes), `aliases.toml` (failure names from vendor material and the drafts → where they
point), and one `<lang>.toml` of texts per language (`en`, `pt`). A language is added by
adding its file; a test checks every language covers every key.

    explain("certificate-expired", mode="enforce", lang="pt")  → Explanation
    classify_reason("X509_V_ERR_CERT_HAS_EXPIRED")             → ReasonMatch
    lookup("mta_sts_fetch_error")                               → Alias
"""

from __future__ import annotations

import functools
import math
import re
import tomllib
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NamedTuple

from tlsscope.visible import cut
from tlsscope.vocab import PolicyType, Severity

HERE = Path(__file__).parent
MODES = ("enforce", "testing", "dane", "none")
# An sts policy whose report did not quote its mode (a Mail.ru report without policy-string):
# tlsscope says so, and gives the effect under both MTA-STS modes (RFC 8461 §5), never one.
UNQUOTED = "unquoted"
DEFAULT_LANG = "en"
# Strictest first. A report of a day the policy changed lists each version (RFC 8460 §4.4), so
# one day can quote both testing and enforce: findings are judged by the strictest mode quoted,
# never by the version that happens to come last in policies[]. Catalog modes and the raw
# MTA-STS modes (enforce, testing, none: RFC 8461 §5) rank alike.
STRICTNESS = ("enforce", "dane", "testing", "none", UNQUOTED)
# Bound once for the loops over rows (see tlsscope.vocab).
_STS, _TLSA = PolicyType.STS.value, PolicyType.TLSA.value


class Cause(NamedTuple):
    id: str
    text: str
    confirm: str


class Explanation(NamedTuple):
    result_type: str
    known: bool  # False: not an RFC 8460 result type (a generic, honest text)
    title: str
    meaning: str
    effect: str  # under the mode asked for
    effects: dict[str, str]  # under every mode
    causes: list[Cause]
    fix: list[str]
    severity: Severity
    severity_text: str
    rfc: str


class ReasonMatch(NamedTuple):
    id: str | None  # None: unrecognised
    raw: str
    result_type: str | None
    text: str


class Alias(NamedTuple):
    name: str
    result_type: str | None
    reason: str | None
    note: str | None


def languages() -> list[str]:
    return sorted(p.stem for p in HERE.glob("*.toml")
                  if p.stem not in ("entries", "reasons", "aliases"))


@functools.cache
def _data(name: str) -> dict[str, Any]:
    with (HERE / f"{name}.toml").open("rb") as handle:
        return tomllib.load(handle)


def _texts(lang: str) -> dict[str, Any]:
    return _data(lang if lang in languages() else DEFAULT_LANG)


FILLED = 600  # characters of one value put into a text (a report's 50 KB MX name is cut)


def fill(template: str, /, **values: object) -> str:
    """A catalog text with its {placeholders} replaced, each value at most FILLED long."""
    for key, value in values.items():
        template = template.replace("{" + key + "}", cut(str(value), FILLED))
    return template


def _fill(text: str, values: dict[str, str]) -> str:
    return fill(text, **values)


class Words:
    """One language's texts, with its way of writing numbers and lists."""

    def __init__(self, lang: str = DEFAULT_LANG) -> None:
        self.texts = _texts(lang)
        self._summary: dict[str, str] = self.texts["summary"]

    def say(self, section: str, key: str, /, **values: object) -> str:
        return fill(self.texts[section][key], **values)

    def number(self, value: int) -> str:
        return f"{value:,}".replace(",", self._summary["thousands"])

    def percent(self, value: float) -> str:
        return f"{value:.1f}".replace(".", self._summary["decimal"])

    def names(self, items: Sequence[str], limit: int = 0) -> str:
        """"A, B and C"; with `limit`, "A, B, C and 1,997 others" beyond it. A name of a
        report (100 KB, if a sender says so) is quoted by its first characters."""
        items = [cut(item) for item in items]
        if limit and len(items) > limit:
            return fill(self._summary["and_others"], names=", ".join(items[:limit]),
                        n=self.number(len(items) - limit))
        if len(items) <= 1:
            return "".join(items)
        return f"{', '.join(items[:-1])} {self._summary['and']} {items[-1]}"


def success_rate(successful: int, failed: int) -> float | None:
    """Percent of sessions that succeeded (None without sessions), rounded down to 0.1 when
    some failed, so that a domain with failures never reads "100.0 %"."""
    total = successful + failed
    if total == 0:
        return None
    rate = 100.0 * successful / total
    return math.floor(rate * 10) / 10 if failed else rate


def policy_mode(policy_type: str, mode: str | None) -> str:
    """The catalog mode (MODES, or UNQUOTED) a policy of a report stands for: an sts policy's
    quoted mode (UNQUOTED when the report quotes none), dane for tlsa, none otherwise."""
    if policy_type == _STS:
        if mode in ("enforce", "testing"):
            return mode
        return "testing" if mode == "none" else UNQUOTED  # none: nothing is refused
    return "dane" if policy_type == _TLSA else "none"


def strictness(mode: str) -> int:
    """Higher is stricter (STRICTNESS); a mode outside it ("" when not quoted) ranks lowest."""
    return len(STRICTNESS) - STRICTNESS.index(mode) if mode in STRICTNESS else 0


def explain(result_type: str, mode: str = "none", lang: str = DEFAULT_LANG, *,
            domain: str | None = None, mx: str | None = None) -> Explanation:
    """The explanation of a result type under a policy mode, in a language.

    `mode`: enforce or testing (MTA-STS), dane, none (opportunistic TLS), or UNQUOTED (an
    MTA-STS policy whose mode no report quoted: the effect says so and gives both modes'; the
    severity is testing's, as nothing says that mail was refused).
    """
    if mode == UNQUOTED:
        return _unquoted(explain(result_type, "testing", lang, domain=domain, mx=mx), lang)
    mode = mode if mode in MODES else "none"
    texts = _texts(lang)
    values = {"domain": domain or "<domain>", "mx": mx or "<mx>", "result_type": result_type}
    entry = _data("entries").get(result_type)
    if entry is None:
        generic = texts["unknown"]
        effects = {m: _fill(generic["effect"][m], values) for m in MODES}
        severity = Severity.HIGH if mode in ("enforce", "dane") else Severity.MEDIUM
        return Explanation(result_type, False, _fill(generic["title"], values),
                           _fill(generic["meaning"], values), effects[mode], effects, [],
                           [_fill(f, values) for f in generic["fix"]], severity,
                           texts["severity"][severity], "RFC 8460 §4.3")
    words = texts["result"][result_type]
    effects = {m: _fill(words["effect"][m], values) for m in MODES}
    causes = [Cause(cause, _fill(texts["cause"][cause]["text"], values),
                    _fill(texts["cause"][cause]["confirm"], values))
              for cause in entry["causes"]]
    severity = Severity(entry["severity"][mode])
    return Explanation(result_type, True, _fill(words["title"], values),
                       _fill(words["meaning"], values), effects[mode], effects, causes,
                       [_fill(f, values) for f in words["fix"]], severity,
                       texts["severity"][severity], entry["rfc"])


def _unquoted(testing: Explanation, lang: str) -> Explanation:
    effect = fill(_texts(lang)["effect_unquoted"], enforce=testing.effects["enforce"],
                  testing=testing.effects["testing"])
    return testing._replace(effect=effect)


class _Rule(NamedTuple):
    id: str
    pattern: re.Pattern[str]
    result_type: str


@functools.cache
def _rules() -> list[_Rule]:
    return [_Rule(r["id"], re.compile(r["pattern"], re.IGNORECASE), r["result_type"])
            for r in _data("reasons")["reason"]]


def classify_reason(raw: str, lang: str = DEFAULT_LANG) -> ReasonMatch:
    """A free-text failure-reason-code → its cause; unrecognised text is said to be so."""
    texts = _texts(lang)["reason"]
    for rule in _rules():
        found = rule.pattern.search(raw)
        if found:
            status = next((v for k, v in found.groupdict().items() if v), "")
            return ReasonMatch(rule.id, raw, rule.result_type,
                               _fill(texts[rule.id], {"status": status}))
    return ReasonMatch(None, raw, None, texts["unrecognised"])


def reason_result_type(reason_id: str) -> str | None:
    """The result type a reason (reasons.toml id) amounts to."""
    return next((rule.result_type for rule in _rules() if rule.id == reason_id), None)


def normalise_name(name: str) -> str:
    return re.sub(r"[\s_]+", "-", name.strip().lower())


def lookup(name: str) -> Alias | None:
    """A failure name as users meet it elsewhere → where tlsscope explains it."""
    key = normalise_name(name)
    if key in _data("entries"):
        return Alias(key, key, None, None)
    target = _data("aliases")["alias"].get(key)
    if target is None:
        return None
    return Alias(key, target.get("result_type"), target.get("reason"), target.get("note"))


def note(note_id: str, lang: str = DEFAULT_LANG) -> str:
    return str(_texts(lang)["note"][note_id])


def label(key: str, lang: str = DEFAULT_LANG) -> str:
    """A short label shown around explanations (Effect, Fix, ...)."""
    return str(_texts(lang)["label"][key])


def reason_text(reason_id: str, lang: str = DEFAULT_LANG) -> str:
    return str(_texts(lang)["reason"][reason_id])


def has_note(note_id: str, lang: str = DEFAULT_LANG) -> bool:
    return note_id in _texts(lang)["note"]
