"""Cheap detection of optional heavy packages and of CUDA, without importing them."""

from __future__ import annotations

import glob
import importlib.util
import os
from typing import Optional


def has_module(name: str) -> bool:
    """True when ``name`` can be imported, found without importing it."""
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


def cuda_reason() -> Optional[str]:
    """None when an NVIDIA GPU looks usable, else a human reason why not."""
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None and visible.strip() in ("", "-1", "none", "NoDevFiles"):
        return "CUDA_VISIBLE_DEVICES=%r hides every GPU" % visible
    if not (os.path.exists("/proc/driver/nvidia/version") or glob.glob("/dev/nvidia[0-9]*")):
        return "no CUDA device found (no NVIDIA driver or /dev/nvidia* device)"
    return None


def missing_reason(*modules: str) -> Optional[str]:
    for m in modules:
        if not has_module(m):
            return "python package %s is not installed" % m
    return None
