"""How long building the detector takes, and how much memory, for a device profile at
the documented limits (auditor/detect/profile.py, README "Limits").

    python3 bench/profile_limits.py [CASE]   # CASE: all (default), values, contacts, sms

Each case runs in a child process so its peak memory (ru_maxrss) is its own.
"""

from __future__ import annotations

import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from auditor.detect import profile as p


def _digits(n: int, rng: random.Random) -> str:
    return "".join(rng.choice("0123456789") for _ in range(n))


def _profile(case: str) -> str:
    rng = random.Random(7)
    lines = ["name: limits", "region: CN"]
    if case in ("values", "all"):
        lines.append("imei: [" + ", ".join(f"'{_digits(15, rng)}'"
                                         for _ in range(p.MAX_VALUES)) + "]")
        lines.append("android_id: [" + ", ".join(
            f"'{rng.randbytes(p.MAX_VALUE_LENGTH // 2).hex()}'"
            for _ in range(p.MAX_VALUES)) + "]")
        lines.append("serial_number: [" + ", ".join(
            "'" + "".join(rng.choice("ABCDEFGHJKLMNPQRSTUVWXYZ0123456789")
                          for _ in range(p.MAX_VALUE_LENGTH)) + "'"
            for _ in range(p.MAX_VALUES)) + "]")
        lines.append("email: [" + ", ".join(f"'u{n}{'x' * 200}@example.com'"
                                          for n in range(p.MAX_VALUES)) + "]")
    if case in ("contacts", "all"):
        lines.append("contacts:")
        lines += [f"  - {{name: 'Contact {'n' * 40}{n}', phone: '+86 156 {_digits(4, rng)} "
                  f"{_digits(4, rng)}'}}" for n in range(p.MAX_CONTACTS)]
    if case in ("sms", "all"):
        words = ["meet", "me", "at", "the", "station", "tomorrow", "bring", "the", "documents", "and", "keys"]
        lines.append("sms:")
        for _ in range(p.MAX_SMS):
            text = ""
            while len(text) < p.MAX_SMS_LENGTH - 20:
                text += rng.choice(words) + " "
            lines.append(f"  - '{text.strip()}'")
    return "\n".join(lines) + "\n"


def child(case: str) -> None:
    from auditor.detect import Detector
    from auditor.detect.profile import load_profile
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as f:
        f.write(_profile(case))
    start = time.perf_counter()
    profile = load_profile(f.name)
    loaded = time.perf_counter()
    detector = Detector(profile, pattern_mode=True)
    built = time.perf_counter()
    Path(f.name).unlink()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss >> 10
    patterns = getattr(getattr(detector, "known", None), "pattern_count", "?")
    print(f"{case:9} load {loaded - start:6.2f} s  build {built - loaded:6.2f} s  "
          f"peak {peak:5d} MiB  patterns {patterns}")


def main() -> None:
    if len(sys.argv) > 2 and sys.argv[1] == "--child":
        child(sys.argv[2])
        return
    cases = sys.argv[1:] or ["values", "contacts", "sms", "all"]
    print(f"limits: value {p.MAX_VALUE_LENGTH} chars, {p.MAX_VALUES} values/key, "
          f"{p.MAX_CONTACTS} contacts, {p.MAX_SMS} SMS of {p.MAX_SMS_LENGTH} chars")
    for case in cases:
        subprocess.run([sys.executable, __file__, "--child", case], check=True)


if __name__ == "__main__":
    main()
