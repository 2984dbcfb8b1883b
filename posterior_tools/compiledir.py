"""A PyTensor compile cache of the project's own, so that the first compile of a process is cheap.

PyTensor keeps every C module it compiles in one cache directory (``~/.pytensor`` by default)
and, at the first compile of every process, re-reads the key of every module in it. With the
modules of other projects and of a test suite in the shared directory (1,216 entries on the
bench machine) that refresh took 3.1-4.9 CPU s per process; in a directory holding the
attribution model's modules alone (54 entries) it takes under 0.1 s (bench/RESULTS.md,
issue 17). The directory is only a cache: deleting it costs one run's C compilation.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from posterior_tools.settings import PYTENSOR_CACHE_NAME

#: ``PYTENSOR_FLAGS`` keys that already choose a compile directory (left as the user set them).
_DIRECTORY_FLAGS = ("base_compiledir", "compiledir")


def cache_directory() -> Path:
    """``$XDG_CACHE_HOME/<PYTENSOR_CACHE_NAME>/pytensor`` (``~/.cache`` without XDG)."""
    root = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(root) / PYTENSOR_CACHE_NAME / "pytensor"


def use_project_cache() -> bool:
    """Point PyTensor's compile cache at :func:`cache_directory` for this process.

    Takes effect only before PyTensor is imported (its compile directory is fixed at import)
    and when ``PYTENSOR_FLAGS`` chooses no directory; returns whether it took effect.
    """
    flags = os.environ.get("PYTENSOR_FLAGS", "")
    keys = {item.split("=", 1)[0].strip() for item in flags.split(",") if "=" in item}
    if "pytensor" in sys.modules or keys & set(_DIRECTORY_FLAGS):
        return False
    entry = f"base_compiledir={cache_directory()}"
    os.environ["PYTENSOR_FLAGS"] = f"{flags},{entry}" if flags.strip() else entry
    return True
