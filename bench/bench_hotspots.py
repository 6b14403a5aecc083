"""Which compiled library serves the analysis hot spots better, on the fields of a real run.

    python3 bench/make_capture.py --size-mb 100 /tmp/c100.pcap
    pip install hyperscan regex      # or: pip install -e '.[bench]'
    python3 bench/bench_hotspots.py /tmp/c100.pcap --device captures/redmi-1s-2014/device.yaml

Reads the capture once, decodes every exchange into its fields (as `auditor analyze`
does) and then times, each on the same data, with the same results checked:

1. the known-value search: ahocorasick_rs (what the detector uses) against hyperscan, the
   same literals, overlapping matches, over each exchange's joined, lower-cased fields;
2. the JSON report: `json.dumps(indent=2)` (the pure-Python encoder) against orjson,
   record by record as `iter_json` writes it, and whether the bytes are the same;
3. the pattern-mode regexes (auditor.detect.patterns) with `re` against the `regex`
   module, over the fields the detector's gates let through;
4. the loose phone search (separator-blind profile numbers): its share of the detection
   time, and how many of its runs confirm anything.

CPU time (`time.process_time`) of the best of `--repeat` runs is printed, so the load of
a shared machine disturbs the figures less than wall time would.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from auditor.decode import fields_of
from auditor.detect.batch import FieldBatch
from auditor.engine import analyse, analyze_files, build_audit, keep
from auditor.sources import open_capture


def best(function: Callable[[], object], repeat: int) -> tuple[float, object]:
    """(fastest CPU seconds, result) of `repeat` runs."""
    fastest, result = float("inf"), None
    for _ in range(repeat):
        start = time.process_time()
        result = function()
        fastest = min(fastest, time.process_time() - start)
    return fastest, result


def row(name: str, seconds: float, megabytes: float, note: str = "") -> None:
    print(f"  {name:40} {seconds * 1000:9.1f} ms {megabytes / seconds:9.1f} MB/s  {note}")


def known_search(audit, batches: list[FieldBatch], repeat: int) -> None:
    try:
        import hyperscan
    except ImportError:
        print("known-value search: pip install hyperscan to compare it with ahocorasick_rs")
        return
    matcher = audit.detector.known
    patterns = [variants[0].pattern.lower() for variants in matcher._variants]
    size = sum(len(b.lowered) for b in batches) / 1e6
    print(f"known-value search: {len(patterns)} literals over {len(batches)} exchanges, "
          f"{size:.1f} MB of fields")

    def with_ahocorasick():
        automaton = matcher._automaton
        return [sorted(automaton.find_matches_as_indexes(b.lowered, overlapping=True))
                for b in batches]

    database = hyperscan.Database(mode=hyperscan.HS_MODE_BLOCK)
    lengths = [len(p) for p in patterns]
    start = time.process_time()
    database.compile(expressions=patterns, ids=list(range(len(patterns))),
                     elements=len(patterns), flags=[0] * len(patterns), literal=True)
    compile_ms = (time.process_time() - start) * 1000

    def with_hyperscan():
        out = []
        for b in batches:
            hits: list[tuple[int, int, int]] = []

            def on_match(index, _start, end, _flags, _context, hits=hits):
                hits.append((index, end - lengths[index], end))

            database.scan(b.lowered, match_event_handler=on_match)
            out.append(sorted(hits))
        return out

    ac_time, ac_hits = best(with_ahocorasick, repeat)
    hs_time, hs_hits = best(with_hyperscan, repeat)
    count = sum(len(h) for h in ac_hits)
    row("ahocorasick_rs (in use)", ac_time, size, f"{count} hits")
    row("hyperscan", hs_time, size, ("same hits" if hs_hits == ac_hits else "DIFFERENT HITS")
        + f"; {compile_ms:.0f} ms to compile, once per audit")


def json_report(result, repeat: int) -> None:
    import orjson

    from auditor.report.json_report import _exchange, _observation
    from auditor.report.view import masker_for

    masker = masker_for(result, False)
    records = [_exchange(e, result, masker) for e in result.exchanges] + \
        [_observation(o, masker) for o in result.observations]
    print(f"JSON report: {len(records)} records")
    std_time, std = best(lambda: [json.dumps(r, indent=2, ensure_ascii=False)
                                  for r in records], repeat)
    fast_time, fast = best(lambda: [orjson.dumps(r, option=orjson.OPT_INDENT_2).decode()
                                    for r in records], repeat)
    from auditor.report.fastjson import dumps_indented

    used_time, used = best(lambda: [dumps_indented(r) for r in records], repeat)
    size = sum(len(t) for t in std) / 1e6
    row("json.dumps(indent=2)", std_time, size)
    row("orjson OPT_INDENT_2", fast_time, size,
        "byte-identical" if fast == std else "DIFFERENT BYTES")
    row("fastjson: orjson + float check (in use)", used_time, size,
        "byte-identical" if used == std else "DIFFERENT BYTES")


def pattern_regexes(audit, batches: list[FieldBatch], repeat: int) -> None:
    import re

    try:
        import regex
    except ImportError:
        print("pattern regexes: pip install regex to compare it with re")
        return

    from auditor.detect import patterns

    finder = audit.detector.patterns
    texts = [b.fields[i].value for b in batches for i in sorted(finder.candidates(b))
             if patterns.is_text(b.fields[i].value)]
    size = sum(map(len, texts)) / 1e6
    names = ["_PHONEISH", "_EMAIL", "_HEX16", "_UUID", "_MAC_SEPARATED", "_COORDINATE_PAIR",
             "_KEYED_COORDINATE"]
    print(f"pattern regexes: {len(names)} regexes over the {len(texts)} fields the gates "
          f"pass ({size:.1f} MB)")
    compiled_re = [getattr(patterns, n) for n in names]
    compiled_regex = [regex.compile(r.pattern, r.flags & re.IGNORECASE) for r in compiled_re]

    def run(regexes):
        return [[m.span() for r in regexes for m in r.finditer(t)] for t in texts]

    re_time, re_hits = best(lambda: run(compiled_re), repeat)
    rx_time, rx_hits = best(lambda: run(compiled_regex), repeat)
    row("re (in use)", re_time, size, f"{sum(map(len, re_hits))} hits")
    row("regex", rx_time, size, "same hits" if rx_hits == re_hits else "DIFFERENT HITS")


def loose_phones(audit, batches: list[FieldBatch], repeat: int) -> None:
    matcher = audit.detector.known
    if matcher._loose_gate is None:
        print("loose phones: the profile has no phone numbers")
        return
    size = sum(len(b.lowered) for b in batches) / 1e6
    whole, _ = best(lambda: [matcher.search_batch(b) for b in batches], repeat)
    loose, found = best(lambda: [matcher._loose_matches(b.lowered) for b in batches], repeat)
    confirmed = sum(1 for f in found if f)
    print(f"loose phone search: {len(matcher._loose)} numbers")
    row("whole known-value search", whole, size)
    row("of which the loose phone search", loose, size,
        f"{loose / whole:.0%} of it; {confirmed} of {len(batches)} exchanges confirm one")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("capture")
    parser.add_argument("--device", default=str(ROOT / "captures/redmi-1s-2014/device.yaml"))
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    audit = build_audit(device=args.device)
    info, exchanges = open_capture(args.capture)
    pairs = [(exchange, keep(exchange, n)) for n, exchange in enumerate(exchanges, 1)]
    batches = []
    for exchange, kept in pairs:
        fields = list(fields_of(exchange, warnings=[]))
        if kept.readable and fields:
            batches.append(FieldBatch(fields))
    print(f"{args.capture}: {info.size / 1e6:.1f} MB, {len(batches)} readable exchanges")
    whole, _ = best(lambda: [analyse(audit.detector, e, k) for e, k in pairs], args.repeat)
    print(f"for scale, decoding and searching every exchange (what the workers do): "
          f"{whole * 1000:.0f} ms")
    known_search(audit, batches, args.repeat)
    loose_phones(audit, batches, args.repeat)
    pattern_regexes(audit, batches, args.repeat)
    json_report(analyze_files([args.capture], build_audit(device=args.device)), args.repeat)


if __name__ == "__main__":
    main()
