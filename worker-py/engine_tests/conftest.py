"""The engine suite: the real f5-tts / whisperx / torch from requirements-gpu.txt, on CPU, with tiny
models the tests build. Run by `npm run test:engines` (scripts/test-engines.mjs), which puts
netguard/ on PYTHONPATH so this process and every child refuse connections off loopback."""
import os
import sys
from pathlib import Path

import pytest

WORKER_DIR = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(WORKER_DIR))


@pytest.fixture(autouse=True, scope="session")
def _offline():
    import socket

    if socket.socket.connect.__module__ != "sitecustomize":
        pytest.exit("run the engine suite with `npm run test:engines` (the network guard is not loaded)", 2)
    assert os.environ.get("HF_HUB_OFFLINE") == "1"
    yield
