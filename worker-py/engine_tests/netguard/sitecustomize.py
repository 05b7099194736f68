"""Loaded by every Python process of the engine suite (PYTHONPATH): any connection off loopback is
refused and written to $VOICECUE_NETGUARD_LOG, which the suite checks is empty at the end. The real
libraries must run from what the tests build, never from a download."""
import ipaddress
import os
import socket

_LOG = os.environ.get("VOICECUE_NETGUARD_LOG")


def _loopback(address) -> bool:
    if isinstance(address, (str, bytes)):  # AF_UNIX
        return True
    host = address[0]
    if host in ("localhost", ""):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a name to resolve: refused, resolving it would already reach out


def _refuse(address):
    if _LOG:
        with open(_LOG, "a", encoding="utf-8") as log:
            log.write(f"{os.getpid()} {address!r}\n")
    raise ConnectionRefusedError(f"voicecue engine tests: connection to {address!r} refused (off loopback)")


_connect = socket.socket.connect
_connect_ex = socket.socket.connect_ex


def connect(self, address):
    if self.family in (socket.AF_INET, socket.AF_INET6) and not _loopback(address):
        _refuse(address)
    return _connect(self, address)


def connect_ex(self, address):
    if self.family in (socket.AF_INET, socket.AF_INET6) and not _loopback(address):
        _refuse(address)
    return _connect_ex(self, address)


socket.socket.connect = connect
socket.socket.connect_ex = connect_ex
