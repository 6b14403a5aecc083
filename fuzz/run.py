#!/usr/bin/env python3
"""Run one fuzz target coverage-guided with atheris (libFuzzer), or replay a corpus.

    python3 fuzz/run.py TARGET [libFuzzer options] [CORPUS_DIR ...]
    python3 fuzz/run.py TARGET --replay DIR_OR_FILE ...

Targets: capture, http1, http2, walker, har, flowfile, yaml (fuzz/targets.py).
With no corpus folder given, fuzz/work/TARGET is used (not committed; started from the
seeds fuzz/seeds.py makes out of the test fixtures, and grown by every run).
Crashes are written where libFuzzer's -artifact_prefix says (default fuzz/findings/).
Long runs: fuzz/long_run.sh.
"""

from __future__ import annotations

import atexit
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from seeds import write as write_seeds
from targets import TARGETS, cleanup

atexit.register(cleanup)  # libFuzzer leaves through exit(): remove the scratch files then


def replay(target, paths: list[str]) -> int:
    files = [p for arg in paths for p in (sorted(Path(arg).iterdir()) if Path(arg).is_dir()
                                          else [Path(arg)])]
    for path in files:
        target(path.read_bytes())
    print(f"replayed {len(files)} inputs without a finding")
    return 0


def main() -> int:
    if len(sys.argv) < 2 or sys.argv[1] not in TARGETS:
        print(__doc__, file=sys.stderr)
        return 2
    name, rest = sys.argv[1], sys.argv[2:]
    target = TARGETS[name]
    try:
        if rest[:1] == ["--replay"]:
            return replay(target, rest[1:])
        import atheris

        if not any(not a.startswith("-") for a in rest):  # no corpus folder given
            work = HERE / "work" / name
            if not work.is_dir() or not any(work.iterdir()):
                write_seeds(HERE / "work", name)
            rest.append(str(work))
        if not any(a.startswith("-artifact_prefix=") for a in rest):
            (HERE / "findings").mkdir(exist_ok=True)
            rest.insert(0, f"-artifact_prefix={HERE / 'findings'}/{name}-")
        # every module a target reaches must be imported here, or it runs uninstrumented
        # (no coverage: the fuzzer is blind); lazily imported ones too
        with atheris.instrument_imports(include=["auditor", "hpack"]):
            import auditor.check
            import auditor.decode
            import auditor.detect.hints
            import auditor.detect.profile
            import auditor.judge.loader
            import auditor.sources
            import auditor.sources.flowfile
            import auditor.sources.pcap.http1
            import auditor.sources.pcap.http2
            import auditor.sources.pcap.reader
            import auditor.suppress  # noqa: F401
        atheris.Setup([sys.argv[0], *rest], target)
        atheris.Fuzz()
    finally:
        cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
