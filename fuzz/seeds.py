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


# The zmq_curve(7) example keypair, the CURVE fuzz targets' long-term keys.
Z85 = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#"


def z85(text):
    out = b""
    for i in range(0, len(text), 5):
        v = 0
        for c in text[i:i + 5]:
            v = v * 85 + Z85.index(c)
        out += struct.pack(">I", v)
    return out


SERVER_PUBLIC = z85("rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7")

# Under cfg(fuzzing) a box is 16 zero octets and then the plaintext.
def box(plain):
    return b"\0" * 16 + plain


def nonce(n):
    return struct.pack(">Q", n)


def message(n, payload, flags=0):
    return frame(b"\x07MESSAGE" + nonce(n) + box(bytes([flags]) + payload))


SHORT_C = b"\x11" * 32  # C', any key will do
SHORT_S_SECRET = b"\x22" * 32  # s'


def curve_hello():
    body = b"\x05HELLO\x01\x00" + b"\0" * 72 + SHORT_C + nonce(1) + box(b"\0" * 64)
    return frame(body, command=True)


def curve_initiate(metadata):
    cookie = b"\x33" * 16 + box(SHORT_C + SHORT_S_SECRET)
    vouch = b"\x44" * 16 + box(SHORT_C + SERVER_PUBLIC)
    body = b"\x08INITIATE" + cookie + nonce(2) + box(SERVER_PUBLIC + vouch + metadata)
    return frame(body, command=True)


def curve_welcome():
    cookie = b"\x33" * 16 + box(b"\x55" * 64)
    return frame(b"\x07WELCOME" + b"\x66" * 16 + box(b"\x77" * 32 + cookie), command=True)


def curve_ready(metadata):
    return frame(b"\x05READY" + nonce(1) + box(metadata), command=True)


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
    # 4 = PUB, 6 = SUB, 8 = PUSH, 9 = PULL), bit 5 heartbeats, bit 6 read in
    # through Connection::read_buffer, bit 7 prepend a greeting. Octet 1:
    # read size - 1.
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
        # Bit 4: asks before READY (a ZAP domain); bit 2 of octet 1 denies.
        "pull_asks_then_reads": bytes([0x09 | 0x10 | 0x80, 0x1B])
        + frame(ready(b"PUSH"), command=True)
        + frame(b"m1"),
        "pull_asks_and_denies": bytes([0x09 | 0x10 | 0x80, 0x1F])
        + frame(ready(b"PUSH"), command=True)
        + frame(b"m1"),
        "pull_reads": bytes([0x09 | 0x80 | 0x40, 0x1F])
        + frame(ready(b"PUSH"), command=True)
        + frame(b"m1", more=True)
        + frame(b"m2" * 200)
        + frame(b"m3" * 1000),
        # A header announcing 1 GiB, and a little of it.
        "pull_reads_claim": bytes([0x09 | 0x80 | 0x40, 0xFF])
        + frame(ready(b"PUSH"), command=True)
        + b"\x02" + struct.pack(">Q", 1 << 30)
        + b"x" * 300,
    },
    # Octets 0 and 1 as for null_connection; bit 5 makes the server deny.
    "plain_server": {
        "allowed_router_from_dealer": bytes([0x03 | 0x80, 0xFF])
        + frame(cmd(b"HELLO", b"\x04user\x04pass"), command=True)
        + frame(cmd(b"INITIATE", prop(b"Socket-Type", b"DEALER")), command=True)
        + frame(b"", more=True)
        + frame(b"request"),
        "denied": bytes([0x03 | 0x80 | 0x20, 0x10])
        + frame(cmd(b"HELLO", b"\x04user\x05wrong"), command=True),
    },
    "plain_client": {
        "dealer_to_router": bytes([0x02 | 0x80, 0xFF])
        + frame(cmd(b"WELCOME"), command=True)
        + frame(ready(b"ROUTER"), command=True)
        + frame(b"", more=True)
        + frame(b"reply"),
        "error_400": bytes([0x02 | 0x80, 0x05]) + frame(cmd(b"ERROR", b"\x03400"), command=True),
    },
    "curve_server": {
        "pull_from_push": bytes([0x09 | 0x80, 0xFF])
        + curve_hello()
        + curve_initiate(prop(b"Socket-Type", b"PUSH"))
        + message(3, b"one")
        + message(4, b"two", flags=1)
        + message(5, b"three")
        + message(6, cmd(b"PING", b"\0\x0a"), flags=2),
        "replayed_nonce": bytes([0x09 | 0x80, 0x40])
        + curve_hello()
        + curve_initiate(prop(b"Socket-Type", b"PUSH"))
        + message(3, b"one")
        + message(3, b"one"),
        "denied": bytes([0x09 | 0x80 | 0x20, 0xFF])
        + curve_hello()
        + curve_initiate(prop(b"Socket-Type", b"PUSH")),
    },
    "curve_client": {
        "push_to_pull": bytes([0x08 | 0x80, 0xFF])
        + curve_welcome()
        + curve_ready(prop(b"Socket-Type", b"PULL"))
        + message(2, cmd(b"PING", b"\0\x0a"), flags=2),
        "sub_from_pub": bytes([0x06 | 0x80, 0x0F])
        + curve_welcome()
        + curve_ready(prop(b"Socket-Type", b"PUB"))
        + message(2, b"news", flags=1)
        + message(3, b"body"),
    },
}

for target, seeds in SEEDS.items():
    for name, data in seeds.items():
        with open(os.path.join(HERE, "corpus", target, "seed_" + name), "wb") as f:
            f.write(data)
