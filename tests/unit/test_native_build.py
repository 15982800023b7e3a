"""The SLA core runs as the build the run asked for, never a silent mix.

``make test`` runs the unit suite twice: on the checkout (pure Python) and on the overlay that
``deploy/native.sh`` compiles with mypyc, with ``STREAM_SLA_EXPECT_NATIVE=1``. The same
assertions passing on both is what says the compiled core behaves as the source does; this
file says the second run really exercised compiled code, and that no stray extension module
in the checkout hides an edit of its source (Python imports a ``.so`` before a ``.py``).
"""

from __future__ import annotations

import os
from pathlib import Path

import stream_sla
from stream_sla.build import compiled_modules, core_build

EXPECT_NATIVE = os.environ.get("STREAM_SLA_EXPECT_NATIVE") == "1"


def test_the_core_is_the_build_the_run_asked_for() -> None:
    modules = compiled_modules()
    if EXPECT_NATIVE:
        assert all(modules.values()), f"not compiled: {[m for m, c in modules.items() if not c]}"
        assert core_build() == "mypyc"
    else:
        assert not any(modules.values()), f"compiled: {[m for m, c in modules.items() if c]}"
        assert core_build() == "pure Python"


def test_no_extension_module_hides_a_source_file_in_the_checkout() -> None:
    package = Path(stream_sla.__file__).parent
    if EXPECT_NATIVE:
        return  # the overlay is made of extension modules
    assert sorted(p.name for p in package.rglob("*.so")) == []
