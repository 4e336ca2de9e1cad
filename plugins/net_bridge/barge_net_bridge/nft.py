"""libnftables in-process, through ctypes: one ruleset text in, one transaction.

The ``nft`` command would cost a fork and exec per change (about 1 ms
here); the library it is built on takes the same text and commits it as
one netlink batch, so a whole table is replaced atomically or not at all.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import threading

from barge_net_bridge.errors import FirewallError

LIBRARY = "libnftables.so.1"
NFT_CTX_DEFAULT = 0


def load() -> ctypes.CDLL:
    """The library with its prototypes declared; OSError when it is missing."""
    lib = ctypes.CDLL(ctypes.util.find_library("nftables") or LIBRARY)
    lib.nft_ctx_new.restype = ctypes.c_void_p
    lib.nft_ctx_new.argtypes = [ctypes.c_uint32]
    lib.nft_ctx_free.restype = None
    lib.nft_ctx_free.argtypes = [ctypes.c_void_p]
    lib.nft_ctx_buffer_output.argtypes = [ctypes.c_void_p]
    lib.nft_ctx_buffer_error.argtypes = [ctypes.c_void_p]
    lib.nft_ctx_get_output_buffer.restype = ctypes.c_char_p
    lib.nft_ctx_get_output_buffer.argtypes = [ctypes.c_void_p]
    lib.nft_ctx_get_error_buffer.restype = ctypes.c_char_p
    lib.nft_ctx_get_error_buffer.argtypes = [ctypes.c_void_p]
    lib.nft_run_cmd_from_buffer.restype = ctypes.c_int
    lib.nft_run_cmd_from_buffer.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
    return lib


class Nft:
    """One libnftables context; calls are serialised (a context is not thread-safe)."""

    def __init__(self) -> None:
        try:
            self._lib = load()
        except OSError as exc:
            raise FirewallError(f"cannot load {LIBRARY}: {exc}") from None
        self._ctx = self._lib.nft_ctx_new(NFT_CTX_DEFAULT)
        if not self._ctx:
            raise FirewallError("nft_ctx_new failed")
        self._lib.nft_ctx_buffer_output(self._ctx)
        self._lib.nft_ctx_buffer_error(self._ctx)
        self._lock = threading.Lock()

    def run(self, commands: str) -> str:
        """Run ``commands`` (nft syntax) as one transaction; its output, or FirewallError with nft's message."""
        with self._lock:
            if not self._ctx:
                raise FirewallError("the nftables context is closed")
            rc = self._lib.nft_run_cmd_from_buffer(self._ctx, commands.encode())
            out = (self._lib.nft_ctx_get_output_buffer(self._ctx) or b"").decode(errors="replace")
            err = (self._lib.nft_ctx_get_error_buffer(self._ctx) or b"").decode(errors="replace")
        if rc != 0:
            raise FirewallError(f"nftables refused the ruleset: {err.strip() or f'error {rc}'}")
        return out

    def close(self) -> None:
        with self._lock:
            if self._ctx:
                self._lib.nft_ctx_free(self._ctx)
                self._ctx = None

    def __del__(self) -> None:  # contexts hold a netlink socket
        try:
            self.close()
        except Exception:  # noqa: BLE001 - __del__ may run at exit with the library half torn down
            pass
