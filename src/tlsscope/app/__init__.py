"""The application: what the CLI, the web pages, the API and serve's background processes
ask of tlsscope, each concern in one module, each question answered once.

    scope       what a user may see and do (NotFound / Forbidden)
    windows     which days a question is about ("the last N days", since/until)
    stats       the overview's cards, a domain's statistics and plain-language summary
    findings    stored findings in the user's language, the status filter, one finding
    freshness   when roll-ups and findings are rebuilt (the analyst, the CLI), and how
    events      the moments others subscribe to (a finding changed, a check done)
    checks      live checks: run one and keep it, read the stored ones
    reports     stored reports: listed, read in plain language, their JSON
    quarantine  rejected inputs: their reasons, their bytes, read again
    ingest      bulk loads, and what each way in received
    accounts    users, sessions, API tokens, organisations, who owns which domain
    audit       the audit log: who did what, when, from where (the actions record themselves)

Below it: the store (storage only), the analyses (pure), the live checks' probes. Above it:
thin shells that turn its errors (tlsscope.errors.RequestError) into HTTP statuses or exit
codes. See docs/architecture.md.
"""
