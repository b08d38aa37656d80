"""age encryption throughput: this kit's implementation against raw ChaCha20-Poly1305 and pyrage.

Usage: python bench/bench_age.py [--mib 256] [--runs 3] [--dir /dev/shm]

Random data (os.urandom, in memory) is also written to a temporary file in ``--dir``. Each row is
the median of ``--runs`` runs, in MiB/s:

* raw ChaCha20-Poly1305 -- ``encrypt_into``/``decrypt_into`` over the same bytes in 64 KiB chunks,
  into one reused buffer: the ceiling for any age implementation on ``cryptography``;
* ours, memory -> discard -- :func:`app.bundle.age.encrypt_stream` from a ``BytesIO`` into a
  stream that discards, so only the format's own work is measured;
* ours, file -> file and pyrage ``encrypt_file``/``decrypt_file`` -- what the kit does with
  evidence files (page cache, no fsync);
* pyrage in memory -- ``pyrage.encrypt``/``pyrage.decrypt`` on bytes.

It then checks the GIL: whether one long ChaCha20-Poly1305 call lets a ticking "UI" thread (1 ms
sleeps) run, and the longest that thread waits while a worker encrypts the file with each
implementation.
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO, cast

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import pyrage  # noqa: E402
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305  # noqa: E402

from app.bundle import age  # noqa: E402

CHUNK = age.CHUNK_SIZE


class Discard(io.RawIOBase):
    """A writable stream that drops what it is given."""

    def writable(self) -> bool:
        return True

    def write(self, b) -> int:  # type: ignore[override]
        return len(b)


def median_seconds(fn: Callable[[], object], runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def raw_encrypt(data: memoryview) -> Callable[[], None]:
    aead = ChaCha20Poly1305(os.urandom(32))
    out = memoryview(bytearray(CHUNK + 16))

    def run() -> None:
        for i in range(0, len(data), CHUNK):
            aead.encrypt_into(i.to_bytes(12, "big"), data[i:i + CHUNK], None, out[:len(data[i:i + CHUNK]) + 16])

    return run


def raw_decrypt(data: memoryview) -> Callable[[], None]:
    aead = ChaCha20Poly1305(os.urandom(32))
    sealed = bytearray()
    for i in range(0, len(data), CHUNK):
        sealed += aead.encrypt(i.to_bytes(12, "big"), data[i:i + CHUNK], None)
    view = memoryview(sealed)
    out = memoryview(bytearray(CHUNK))

    def run() -> None:
        for n, i in enumerate(range(0, len(view), CHUNK + 16)):
            piece = view[i:i + CHUNK + 16]
            aead.decrypt_into((n * CHUNK).to_bytes(12, "big"), piece, None, out[:len(piece) - 16])

    return run


def ui_stall(work: Callable[[], object]) -> tuple[float, int]:
    """Longest gap (ms) between 1 ms ticks of the calling thread while ``work`` runs in a thread."""
    finished = threading.Event()

    def target() -> None:
        try:
            work()
        finally:
            finished.set()

    worker = threading.Thread(target=target)
    gaps = []
    last = time.perf_counter()
    worker.start()
    while not finished.is_set():
        time.sleep(0.001)
        now = time.perf_counter()
        gaps.append(now - last)
        last = now
    worker.join()
    return max(gaps) * 1000, len(gaps)


def gil_released(data: memoryview) -> tuple[float, float, int]:
    """Does one ChaCha20-Poly1305 call let other threads run? Returns (call ms, UI wait ms, ticks).

    The worker makes ten calls over all of ``data`` at once. If the call held the GIL, the
    ticking thread would wait about as long as one call; if it releases it, about a tick.
    """
    aead = ChaCha20Poly1305(os.urandom(32))
    out = memoryview(bytearray(len(data) + 16))
    start = time.perf_counter()
    aead.encrypt_into(bytes(12), data, None, out)
    call = (time.perf_counter() - start) * 1000

    def work() -> None:
        for _ in range(10):
            aead.encrypt_into(bytes(12), data, None, out)

    stall, ticks = ui_stall(work)
    return call, stall, ticks


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mib", type=int, default=256)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--dir", default=None, help="where the temporary files go (default: the system temp dir)")
    args = parser.parse_args()

    size = args.mib << 20
    data = os.urandom(size)
    view = memoryview(data)
    identity = age.X25519Identity.generate()
    recipient = identity.recipient()
    their_identity = pyrage.x25519.Identity.from_str(identity.to_string())
    their_recipient = their_identity.to_public()

    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        plain = Path(tmp) / "plain"
        plain.write_bytes(data)
        ours_ct = Path(tmp) / "ours.age"
        theirs_ct = Path(tmp) / "theirs.age"
        back = Path(tmp) / "back"
        ct_bytes = age.encrypt_bytes(data, [recipient])
        pyrage_ct = pyrage.encrypt(data, [their_recipient])

        def ours_encrypt_file() -> None:
            with open(plain, "rb") as src, open(ours_ct, "wb") as dst:
                age.encrypt_stream(src, dst, [recipient])

        def ours_decrypt_file() -> None:
            with open(ours_ct, "rb") as src, open(back, "wb") as dst:
                age.decrypt_stream(src, dst, [identity])

        rows: list[tuple[str, float, float]] = []

        def measure(name: str, enc: Callable[[], object], dec: Callable[[], object]) -> None:
            rows.append((name, args.mib / median_seconds(enc, args.runs), args.mib / median_seconds(dec, args.runs)))

        measure("raw ChaCha20-Poly1305, 64 KiB chunks", raw_encrypt(view), raw_decrypt(view))
        measure("ours, memory -> discard",
                lambda: age.encrypt_stream(io.BytesIO(data), cast(BinaryIO, Discard()), [recipient]),
                lambda: age.decrypt_stream(io.BytesIO(ct_bytes), cast(BinaryIO, Discard()), [identity]))
        measure("ours, file -> file", ours_encrypt_file, ours_decrypt_file)
        measure("pyrage, memory", lambda: pyrage.encrypt(data, [their_recipient]),
                lambda: pyrage.decrypt(pyrage_ct, [their_identity]))
        measure("pyrage, file -> file", lambda: pyrage.encrypt_file(str(plain), str(theirs_ct), [their_recipient]),
                lambda: pyrage.decrypt_file(str(theirs_ct), str(back), [their_identity]))
        assert back.read_bytes() == data

        raw_enc, raw_dec = rows[0][1], rows[0][2]
        print(f"age throughput, {args.mib} MiB, median of {args.runs} (MiB/s; ratio to raw ChaCha20-Poly1305)\n")
        print("| implementation | encrypt | ratio | decrypt | ratio |")
        print("|---|---:|---:|---:|---:|")
        for name, enc, dec in rows:
            print(f"| {name} | {enc:.0f} | {enc / raw_enc:.2f} | {dec:.0f} | {dec / raw_dec:.2f} |")
        ours_file, pyrage_file = rows[2], rows[4]
        ours_mem, pyrage_mem = rows[1], rows[3]
        print(f"\nours / pyrage: file -> file encrypt {ours_file[1] / pyrage_file[1]:.2f}x, "
              f"decrypt {ours_file[2] / pyrage_file[2]:.2f}x; "
              f"memory encrypt {ours_mem[1] / pyrage_mem[1]:.2f}x, decrypt {ours_mem[2] / pyrage_mem[2]:.2f}x")

        print("\nGIL")
        call, stall, ticks = gil_released(view[:64 << 20])
        print(f"- one ChaCha20-Poly1305 call over 64 MiB takes {call:.1f} ms; a UI thread ticking meanwhile "
              f"waited at most {stall:.1f} ms ({ticks} ticks): the call "
              f"{'releases' if stall < call / 2 else 'holds'} the GIL")
        stall, ticks = ui_stall(ours_encrypt_file)
        print(f"- UI thread, worker running ours file -> file: longest wait {stall:.1f} ms ({ticks} ticks)")
        stall, ticks = ui_stall(lambda: pyrage.encrypt_file(str(plain), str(theirs_ct), [their_recipient]))
        print(f"- UI thread, worker running pyrage.encrypt_file: longest wait {stall:.1f} ms ({ticks} ticks)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
