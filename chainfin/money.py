"""Integer minor units as people read them, exactly (no floats): the one place the command line,
the goAML report and the contracts' messages turn an amount into text.

``decimal(5000000, 2)`` is ``50000.00`` (the bare decimal, as a form field or an XML amount
takes it); ``money(5000000, "USD")`` is ``USD 50,000.00`` (as a desk reads it: the ledger's
refusal messages, decision 223, and the explorer's ``money`` in node/static/app.js, a port of
it, floor division included).
"""

from __future__ import annotations


def decimal(minor: int, exponent: int) -> str:
    """Integer minor units as the decimal people read, exactly: 5000000, 2 -> ``50000.00``;
    50000, 0 -> ``50000``; 1250, 3 -> ``1.250``; -150, 2 -> ``-1.50``."""
    sign, minor = ("-" if minor < 0 else ""), abs(minor)
    if exponent == 0:
        return f"{sign}{minor}"
    units, frac = divmod(minor, 10 ** exponent)
    return f"{sign}{units}.{frac:0{exponent}d}"


def money(amount: int | None, currency: str, exponent: int = 2) -> str:
    """Integer minor units -> ``USD 1,234.50`` (no floats); ``-`` for None."""
    if amount is None:
        return "-"
    whole, frac = divmod(amount, 10**exponent)
    return f"{currency} {whole:,}" + (f".{frac:0{exponent}d}" if exponent else "")
