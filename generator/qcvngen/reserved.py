"""Device names Windows reserves: one set for the identifier rules and for the writer.

Standard library only and free of imports from the package: :mod:`qcvngen.writer` (which the fast
``qcvngen check`` path imports) and :mod:`qcvngen.naming` (which imports pydantic) both read it.
"""

from __future__ import annotations

# Reserved in any folder and with any extension: ``CON.md`` is ``CON``, ``com1.tar.gz`` is ``COM1``.
WINDOWS_DEVICES = frozenset(
    {"con", "prn", "aux", "nul", *(f"com{i}" for i in range(1, 10)), *(f"lpt{i}" for i in range(1, 10))}
)


def is_windows_device(name: str) -> bool:
    """Whether a file or folder called ``name`` would name a Windows device (its part before the first dot)."""
    return name.split(".")[0].lower() in WINDOWS_DEVICES
