#!/usr/bin/env python3
"""Writes the hand-made seed inputs of each fuzz target into corpus/.

The fuzzers grow the corpus from these; `cargo test` replays every file
committed under corpus/ (crates/weirmq-zmtp/tests/fuzz_corpus.rs).
"""
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))


def greeting(mech=b"NULL", minor=1, major=3, padding=b"\0" * 7 + b"\x01"):
    return b"\xff" + padding + b"\x7f" + bytes([major, minor]) + mech.ljust(20, b"\0") + b"\0" * 32


def frame(body, more=False, command=False):
    flags = (1 if more else 0) | (4 if command else 0)
    if len(body) > 255:
        return bytes([flags | 2]) + struct.pack(">Q", len(body)) + body
    return bytes([flags, len(body)]) + body


def prop(name, value):
    return bytes([len(name)]) + name + struct.pack(">I", len(value)) + value


def cmd(name, data=b""):
    return bytes([len(name)]) + name + data


def ready(socket_type, identity=None):
    body = prop(b"Socket-Type", socket_type)
    if identity is not None:
        body += prop(b"Identity", identity)
    return cmd(b"READY", body)


SEEDS = {
    "greeting": {
        "libzmq_null": greeting(),
        "zmtp30": greeting(minor=0),
        "curve": greeting(b"CURVE"),
        "zmtp20": greeting(major=1),
        "zmtp10": b"\x01\x00",
    },
    "frames": {
        "short_long_command": b"\x40\x03"
        + frame(b"abc", more=True)
        + frame(b"x" * 300)
        + frame(cmd(b"PING", b"\0\x0a"), command=True),
        "empty_frames": b"\x10\x0f" + frame(b"", more=True) + frame(b""),
    },
    "command": {
        "ready_dealer": ready(b"DEALER", b""),
        "ping": cmd(b"PING", b"\x00\x64ctx"),
        "pong": cmd(b"PONG", b"ctx"),
        "error": cmd(b"ERROR", b"\x03400"),
        "subscribe": cmd(b"SUBSCRIBE", b"topic"),
        "cancel": cmd(b"CANCEL", b"topic"),
        "hello": cmd(b"HELLO", b"\x01\x00" + b"\0" * 72),
    },
    "z85": {
        "rfc32": b"HelloWorld",
        "key": b"rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7",
        "overflow": b"#####",
        "bad_char": b"Hel o",
    },
    # Octet 0: socket type index (SocketType::ALL: 2 = DEALER, 3 = ROUTER,
    # 4 = PUB, 6 = SUB, 8 = PUSH, 9 = PULL), bit 5 heartbeats, bit 7 prepend
    # a greeting. Octet 1: read size - 1.
    "null_connection": {
        "dealer_from_router": bytes([0x02, 0xFF])
        + greeting()
        + frame(ready(b"ROUTER"), command=True)
        + frame(b"", more=True)
        + frame(b"reply")
        + frame(cmd(b"PING", b"\x00\x0a"), command=True),
        "pull_from_push_bytewise": bytes([0x09 | 0x80 | 0x20, 0x00])
        + frame(ready(b"PUSH"), command=True)
        + frame(b"m1")
        + frame(b"m2" * 200),
        "pub_sees_30_subscriptions": bytes([0x04 | 0x80, 0x07])
        + frame(ready(b"SUB"), command=True)
        + frame(b"\x01news")
        + frame(cmd(b"SUBSCRIBE", b"weather"), command=True)
        + frame(b"\x00news"),
        "incompatible": bytes([0x08 | 0x80, 0x40]) + frame(ready(b"PUSH"), command=True),
    },
}

for target, seeds in SEEDS.items():
    for name, data in seeds.items():
        with open(os.path.join(HERE, "corpus", target, "seed_" + name), "wb") as f:
            f.write(data)
