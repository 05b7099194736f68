"""Stable error codes of the sidecar protocol and the exception that carries them."""

PARSE_ERROR = "PARSE_ERROR"
INVALID_REQUEST = "INVALID_REQUEST"
METHOD_NOT_FOUND = "METHOD_NOT_FOUND"
INVALID_PARAMS = "INVALID_PARAMS"
ENGINE_UNAVAILABLE = "ENGINE_UNAVAILABLE"
UNKNOWN_VOICE = "UNKNOWN_VOICE"
NO_SPEECH = "NO_SPEECH"
ENGINE_FAILED = "ENGINE_FAILED"
INTERNAL = "INTERNAL"
CANCELLED = "CANCELLED"
BUDGET_EXCEEDED = "BUDGET_EXCEEDED"


class RpcError(Exception):
    """Raised by handlers; becomes {"id":..,"error":{"code":..,"message":..}}."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message
