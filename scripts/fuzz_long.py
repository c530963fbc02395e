"""The long fuzz run of issue 7: N hostile inputs to ``Codec.decompress``, outcomes counted.

    PYTHONPATH=. python scripts/fuzz_long.py                    # 10,000 cases, in-process
    PYTHONPATH=. python scripts/fuzz_long.py --cases 2000 --subprocess 50 --report fuzz.json

Cases come from the generator of ``tests/test_fuzz.py`` (hypothesis profile ``ditic-fuzz-long``,
a fresh random seed each run) and are judged by its ``check_outcome``: allowed are the exact
image for the unmodified file, a :class:`~ditic_lite.DecodeError` with a known message, and an
RGB image of the declared size for a file whose CRC was recomputed around crafted content.
Anything else (another exception type, a wrong image, a failed check) is counted as ``FAIL`` and
its bytes are saved under ``--failures``; the script then exits with status 1.

``--subprocess K`` also decodes every K-th case in a separate worker process, so that a hard
crash (segmentation fault, abort) is caught and counted instead of killing the run. A case that
runs longer than ``--hang-seconds`` is a hang: the process prints its stack and exits.
"""
from __future__ import annotations

import argparse
import json
import resource
import struct
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT))

import test_fuzz as fuzz  # noqa: E402  (the case generator and the outcome check)
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

import ditic_lite  # noqa: E402


def classify(codec, case: fuzz.Case, seed: bytes, reference) -> str:
    """``check_outcome`` that never raises: a disallowed outcome becomes a ``FAIL ...`` label."""
    try:
        return fuzz.check_outcome(codec, case, seed, reference)
    except AssertionError as err:
        return f"FAIL check: {str(err)[:160]}"
    except Exception as err:  # noqa: BLE001 - counting every other exception type is the point
        return f"FAIL {type(err).__name__}: {str(err)[:160]}"


# ----------------------------------------------------------------------------- worker process
def _send(stream, payload: bytes) -> None:
    stream.write(struct.pack(">I", len(payload)) + payload)
    stream.flush()


def _receive(stream) -> bytes | None:
    head = stream.read(4)
    if len(head) < 4:
        return None
    return stream.read(struct.unpack(">I", head)[0])


def worker() -> None:
    """Decode cases sent on stdin (JSON header + bytes), answer each with its label on stdout."""
    codec = ditic_lite.load("tiny", rate=0)
    seeds = fuzz.make_seeds(codec)
    _send(sys.stdout.buffer, b"ready")
    while (message := _receive(sys.stdin.buffer)) is not None:
        meta = json.loads(message)
        case = fuzz.Case(meta["kind"], _receive(sys.stdin.buffer), meta["crafted"])
        seed, reference = seeds[meta["seed"]]
        _send(sys.stdout.buffer, classify(codec, case, seed, reference).encode())


class Worker:
    """A worker process that is restarted after it dies."""

    def __init__(self) -> None:
        self.proc: subprocess.Popen | None = None

    def _start(self) -> None:
        self.proc = subprocess.Popen([sys.executable, __file__, "--worker"], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, cwd=ROOT)
        if _receive(self.proc.stdout) != b"ready":
            raise RuntimeError("the fuzz worker did not start")

    def decode(self, seed_name: str, case: fuzz.Case) -> str:
        if self.proc is None or self.proc.poll() is not None:
            self._start()
        try:
            _send(self.proc.stdin, json.dumps({"seed": seed_name, "kind": case.kind, "crafted": case.crafted}).encode())
            _send(self.proc.stdin, case.data)
            answer = _receive(self.proc.stdout)
        except BrokenPipeError:
            answer = None
        if answer is None:  # the worker died while decoding this case
            code = self.proc.wait()
            self.proc = None
            return f"FAIL crash in subprocess (exit status {code})"
        return answer.decode()

    def close(self) -> None:
        if self.proc is not None:
            self.proc.stdin.close()
            self.proc.wait()


# ----------------------------------------------------------------------------- main
def run(cases: int, every: int, failures: Path, hang_seconds: float) -> dict:
    fuzz.HANG_SECONDS = hang_seconds
    codec = ditic_lite.load("tiny", rate=0)
    seeds = fuzz.make_seeds(codec)
    outcomes: Counter[str] = Counter()
    by_kind: Counter[tuple[str, str]] = Counter()
    worker_outcomes: Counter[str] = Counter()
    helper = Worker() if every else None
    done = [0]
    tic = time.perf_counter()

    @settings(settings.get_profile("ditic-fuzz-long"), max_examples=cases)
    @given(data=st.data())
    def one(data):
        seed_name = data.draw(st.sampled_from(sorted(seeds)))
        seed, reference = seeds[seed_name]
        case = data.draw(fuzz.cases(seed))
        label = classify(codec, case, seed, reference)
        if helper is not None and done[0] % every == 0:
            worker_label = helper.decode(seed_name, case)
            worker_outcomes[worker_label] += 1
            label = worker_label if worker_label.startswith("FAIL") else label
        outcomes[label] += 1
        by_kind[(case.kind, label)] += 1
        if label.startswith("FAIL"):
            failures.mkdir(parents=True, exist_ok=True)
            (failures / f"case{done[0]:06d}.ditic").write_bytes(case.data)
        done[0] += 1
        if done[0] % 500 == 0:
            print(f"  {done[0]} cases, {time.perf_counter() - tic:.0f} s", file=sys.stderr, flush=True)

    one()
    if helper is not None:
        helper.close()
    return {
        "cases": done[0],
        "seconds": round(time.perf_counter() - tic, 1),
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024,
        "outcomes": dict(outcomes.most_common()),
        "by_kind": {f"{kind} -> {label}": n for (kind, label), n in sorted(by_kind.items())},
        "subprocess_outcomes": dict(worker_outcomes.most_common()),
        "failures": sum(n for label, n in outcomes.items() if label.startswith("FAIL")),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=10_000, help="number of cases (default 10,000)")
    parser.add_argument("--subprocess", type=int, default=0, metavar="K",
                        help="also decode every K-th case in a worker process (catches hard crashes)")
    parser.add_argument("--hang-seconds", type=float, default=120.0, help="a case running longer is a hang")
    parser.add_argument("--failures", type=Path, default=ROOT / "results" / "fuzz_failures",
                        help="folder for the bytes of failing cases")
    parser.add_argument("--report", type=Path, help="write the counts as JSON here")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker()
        return 0
    report = run(args.cases, args.subprocess, args.failures, args.hang_seconds)
    print(json.dumps({k: v for k, v in report.items() if k != "by_kind"}, indent=1))
    if args.report:
        args.report.parent.mkdir(parents=True, exist_ok=True)
        args.report.write_text(json.dumps(report, indent=1))
    return 1 if report["failures"] else 0


if __name__ == "__main__":
    sys.exit(main())
