"""`tlsscope explain NAME`: the catalog's explanation of a failure, by any name it goes by."""

from __future__ import annotations

from typing import Annotated

import typer

from tlsscope.cli.app import JsonOption, app, fail, print_json

ModeOption = Annotated[str, typer.Option(
    "--mode", help="The policy in force: enforce, testing (MTA-STS), dane, or none.")]
LangOption = Annotated[str, typer.Option("--lang", help="Language: en or pt.")]


@app.command(short_help="Explain a failure: meaning, effect, causes, fix.")
def explain(
    name: Annotated[str, typer.Argument(
        help="A result type (certificate-expired), a failure name from elsewhere "
        "(mta_sts_fetch_error, 'certificate revoked'), or a failure-reason-code text.",
        show_default=False)],
    mode: ModeOption = "enforce",
    lang: LangOption = "en",
    as_json: JsonOption = False,
) -> None:
    """Explain a failure: what it means, what it does to mail, causes, how to confirm, the fix."""
    from rich.console import Console

    from tlsscope.analyze import catalog
    from tlsscope.cli.render_explain import show_explanation, show_text

    if mode not in catalog.MODES:
        raise fail(f"--mode must be one of {', '.join(catalog.MODES)}")
    if lang not in catalog.languages():
        raise fail(f"--lang must be one of {', '.join(catalog.languages())}")
    console = Console()
    alias = catalog.lookup(name)
    if alias is None:
        reason = catalog.classify_reason(name, lang)
        if reason.id is None:
            raise fail(f"{name!r} is neither a known failure name nor a recognised reason code",
                       1)
        result = catalog.explain(reason.result_type or "validation-failure", mode, lang)
        if as_json:
            print_json({"reason": reason, "explanation": result})
        else:
            show_text(console, reason.text)
            show_explanation(console, result, lang)
        return
    parts: dict[str, object] = {"alias": alias}
    if alias.reason:
        parts["reason"] = catalog.reason_text(alias.reason, lang)
    if alias.note and catalog.has_note(alias.note, lang):
        parts["note"] = catalog.note(alias.note, lang)
    result_type = alias.result_type or (
        catalog.reason_result_type(alias.reason) if alias.reason else None)
    explanation = catalog.explain(result_type, mode, lang) if result_type else None
    if as_json:
        print_json({**parts, "explanation": explanation})
        return
    for key in ("reason", "note"):
        if key in parts:
            show_text(console, str(parts[key]))
    if explanation is not None:
        show_explanation(console, explanation, lang)
