"""Demo data: realistic, reproducible reference data and clockings for a tenant.

Pure functions, no database (``chronodelta seed`` and ``make serve`` store what they
generate; the tests and the benchmarks use them directly).
"""

from ._generator import (
    MOBILE_TERMINAL_CODE,
    generate_clockings,
    generate_organisation,
    generate_reference_data,
)

__all__ = [
    "MOBILE_TERMINAL_CODE",
    "generate_clockings",
    "generate_organisation",
    "generate_reference_data",
]
