"""Understanding: reports (and later live checks) → findings, in plain language.

    catalog/   what each result type, vendor failure name and reason code means (data, i18n)
"""
