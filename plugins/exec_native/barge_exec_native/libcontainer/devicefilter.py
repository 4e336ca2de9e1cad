"""Device access on cgroup v2: a small eBPF program, as runc's devicefilter.

cgroup v2 has no ``devices.allow``; the kernel asks a
``BPF_PROG_TYPE_CGROUP_DEVICE`` program attached to the cgroup instead.
Without one, a container holding CAP_MKNOD (Docker's default set) could
create and open any device node of the host. The program here allows
exactly the rules given (Docker's default list) and denies the rest.
"""

from __future__ import annotations

import ctypes
import os
import struct

from barge.libc import bpf
from barge_exec_native.libcontainer.errors import ContainerError

BPF_PROG_LOAD = 5
BPF_PROG_ATTACH = 8
BPF_PROG_TYPE_CGROUP_DEVICE = 15
BPF_CGROUP_DEVICE = 6
BPF_F_ALLOW_MULTI = 2
_TYPES = {"b": 1, "c": 2}  # BPF_DEVCG_DEV_BLOCK, BPF_DEVCG_DEV_CHAR
_ACCESS = {"m": 1, "r": 2, "w": 4}  # BPF_DEVCG_ACC_MKNOD, READ, WRITE


def _insn(code: int, dst: int = 0, src: int = 0, off: int = 0, imm: int = 0) -> bytes:
    return struct.pack("<BBhi", code, (src << 4) | dst, off, imm)


_LDXW, _AND_K, _RSH_K, _MOV_K, _JNE_K, _EXIT = 0x61, 0x57, 0x77, 0xB7, 0x55, 0x95


def parse_rule(rule: str) -> tuple[int | None, int | None, int | None, int]:
    """``"c 1:3 rwm"`` -> (type, major, minor, access bits); ``None`` is a wildcard."""
    kind, numbers, access = rule.split()
    major, minor = numbers.split(":")
    return (None if kind == "a" else _TYPES[kind], None if major == "*" else int(major),
            None if minor == "*" else int(minor), sum(_ACCESS[a] for a in access))


def program(rules) -> bytes:
    """eBPF code: return 1 when the access matches an allow rule, else 0."""
    head = [
        _insn(_LDXW, 2, 1, 0),  # r2 = ctx->access_type
        _insn(_AND_K, 2, imm=0xFFFF),  # r2 = device type
        _insn(_LDXW, 3, 1, 0),
        _insn(_RSH_K, 3, imm=16),  # r3 = requested access
        _insn(_LDXW, 4, 1, 4),  # r4 = major
        _insn(_LDXW, 5, 1, 8),  # r5 = minor
    ]
    body: list[bytes] = []
    for rule in rules:
        kind, major, minor, access = parse_rule(rule)
        block = []
        if kind is not None:
            block.append((_JNE_K, 2, kind))
        block.append(("mov_and", access))
        if major is not None:
            block.append((_JNE_K, 4, major))
        if minor is not None:
            block.append((_JNE_K, 5, minor))
        # size of the block in instructions: mov+and+jne for access, one jne per check, mov+exit
        size = sum(3 if op[0] == "mov_and" else 1 for op in block) + 2
        pos = 0
        for op in block:
            if op[0] == "mov_and":
                body.append(_insn(0xBF, 1, 3))  # r1 = r3
                body.append(_insn(_AND_K, 1, imm=~op[1]))  # r1 &= ~allowed
                pos += 2
                body.append(_insn(_JNE_K, 1, off=size - pos - 1, imm=0))  # asks for more: next rule
                pos += 1
            else:
                code, reg, value = op
                body.append(_insn(code, reg, off=size - pos - 1, imm=value))
                pos += 1
        body.append(_insn(_MOV_K, 0, imm=1))
        body.append(_insn(_EXIT))
    tail = [_insn(_MOV_K, 0, imm=0), _insn(_EXIT)]
    return b"".join(head + body + tail)


def attach(cgroup_dir: str, rules) -> None:
    """Load the filter for ``rules`` and attach it to the cgroup v2 directory."""
    code = program(rules)
    insns = ctypes.create_string_buffer(code, len(code))
    license_ = ctypes.create_string_buffer(b"Apache-2.0")
    attr = struct.pack("<IIQQIIQII16sII", BPF_PROG_TYPE_CGROUP_DEVICE, len(code) // 8,
                       ctypes.addressof(insns), ctypes.addressof(license_), 0, 0, 0, 0, 0, b"barge_devices",
                       0, BPF_CGROUP_DEVICE)
    try:
        prog_fd = bpf(BPF_PROG_LOAD, attr)
    except OSError as exc:
        raise ContainerError(f"cgroup v2 device filter: BPF_PROG_LOAD: {exc.strerror}") from None
    try:
        cg_fd = os.open(cgroup_dir, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            bpf(BPF_PROG_ATTACH, struct.pack("<IIII", cg_fd, prog_fd, BPF_CGROUP_DEVICE, BPF_F_ALLOW_MULTI))
        except OSError as exc:
            raise ContainerError(f"cgroup v2 device filter: BPF_PROG_ATTACH: {exc.strerror}") from None
        finally:
            os.close(cg_fd)
    finally:
        os.close(prog_fd)
