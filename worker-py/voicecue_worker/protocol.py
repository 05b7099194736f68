"""The worker protocol's one table on this side: its methods and error codes. The gateway's copy
(src/lanes/protocol.ts) is held to it by the contract test (test/lanes/contract.test.ts)."""

from . import errors as E

VERSION = 1

#: method -> where it runs: "control" on the reader thread (answered at once, even while a job
#: runs), "job" on the job thread (one at a time).
METHODS = {
    "ping": "control",
    "capabilities": "control",
    "tokenize": "control",
    "cancel": "control",
    "shutdown": "control",
    "synthesize": "job",
    "align": "job",
}

ERRORS = (
    E.PARSE_ERROR, E.INVALID_REQUEST, E.METHOD_NOT_FOUND, E.INVALID_PARAMS, E.ENGINE_UNAVAILABLE,
    E.UNKNOWN_VOICE, E.NO_SPEECH, E.ENGINE_FAILED, E.CANCELLED, E.BUDGET_EXCEEDED, E.INTERNAL,
)
