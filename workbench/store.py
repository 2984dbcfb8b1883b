"""Results store: xarray Datasets written to NetCDF atomically, with provenance attrs.

NetCDF attributes can hold only strings, numbers and 1-D arrays, so structured provenance
(settings, row counts, input hashes, diagnostics) is stored as JSON strings; ``read_results``
decodes the attributes whose names end in ``_json`` back into Python objects.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import xarray as xr

JSON_SUFFIX = "_json"
HASH_CHUNK_BYTES = 1 << 20


def file_sha256(path: str | os.PathLike) -> str:
    """SHA-256 hex digest of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(HASH_CHUNK_BYTES), b""):
            digest.update(chunk)
    return digest.hexdigest()


def provenance(
    *,
    inputs: Mapping[str, Any] | None = None,
    row_counts: Mapping[str, int] | None = None,
    seed: int | None = None,
    settings: Mapping[str, Any] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """Provenance attrs for a result Dataset.

    ``inputs`` maps a role (``touchpoints``) to a file path (hashed here) or to any other
    description (a DataFrame passed from Python is recorded as ``"<DataFrame>"``).
    """
    from workbench import __version__

    hashed = {}
    for role, src in (inputs or {}).items():
        if isinstance(src, str | os.PathLike) and Path(src).is_file():
            hashed[role] = {"path": str(src), "sha256": file_sha256(src)}
        else:
            hashed[role] = {"path": f"<{type(src).__name__}>", "sha256": None}
    attrs: dict[str, Any] = {
        "workbench_version": __version__,
        "inputs": hashed,
        "row_counts": dict(row_counts or {}),
        "settings": dict(settings or {}),
    }
    if seed is not None:
        attrs["seed"] = int(seed)
    attrs.update(extra)
    return attrs


def _encode_attrs(attrs: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in attrs.items():
        if isinstance(value, str | int | float) and not isinstance(value, bool):
            out[key] = value
        else:
            out[key + JSON_SUFFIX] = json.dumps(value, default=_json_default, sort_keys=True)
    return out


def _json_default(value: Any) -> Any:
    if hasattr(value, "tolist"):
        return value.tolist()
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


def _decode_attrs(attrs: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in attrs.items():
        if key.endswith(JSON_SUFFIX) and isinstance(value, str):
            out[key[: -len(JSON_SUFFIX)]] = json.loads(value)
        else:
            out[key] = value
    return out


def write_results(ds: xr.Dataset, path: str | os.PathLike) -> Path:
    """Write ``ds`` to NetCDF at ``path`` atomically (temporary file in the same folder, then
    rename), so a failed or interrupted run never leaves a half-written or replaced file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    encoded = ds.copy()
    encoded.attrs = _encode_attrs(ds.attrs)
    for name in list(encoded.variables):
        encoded[name].attrs = _encode_attrs(ds[name].attrs)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        encoded.to_netcdf(tmp, engine="h5netcdf", invalid_netcdf=True)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def read_results(path: str | os.PathLike) -> xr.Dataset:
    """Read a results file written by :func:`write_results`, fully loaded into memory, with
    JSON attrs decoded."""
    with xr.open_dataset(path, engine="h5netcdf") as ds:
        loaded = ds.load()
    loaded.attrs = _decode_attrs(loaded.attrs)
    for name in list(loaded.variables):
        loaded[name].attrs = _decode_attrs(loaded[name].attrs)
    return loaded
