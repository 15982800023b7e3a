"""Which build of the SLA core this process runs: pure Python, or compiled by mypyc.

The core (``stream_sla/sla``, ``stream_sla/replay.py``) is plain typed Python; ``deploy/native.sh``
compiles the same sources into C extensions for the image and the benchmarks (about 1.6x the
events per CPU second). Both builds must behave the same, so which one runs is worth saying
at start-up and in a benchmark's figures.
"""

from __future__ import annotations

import importlib

CORE_MODULES = (
    "stream_sla.sla.engine",
    "stream_sla.sla.lead",
    "stream_sla.sla.rules",
    "stream_sla.sla.snapshot",
    "stream_sla.sla.events",
    "stream_sla.replay",
)
"""The modules whose speed the engine's figures depend on."""


def compiled_modules() -> dict[str, bool]:
    """Each core module and whether it was loaded from a compiled extension."""
    found = {}
    for name in CORE_MODULES:
        origin = getattr(importlib.import_module(name), "__file__", None) or ""
        found[name] = not origin.endswith(".py")
    return found


def core_build() -> str:
    """``mypyc``, ``pure Python``, or ``mixed`` (a broken overlay: some modules compiled)."""
    flags = set(compiled_modules().values())
    if flags == {True}:
        return "mypyc"
    return "pure Python" if flags == {False} else "mixed"
