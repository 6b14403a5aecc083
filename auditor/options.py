"""Command-line options every front-end shares (`auditor analyze`, `auditor proxy`)."""

from __future__ import annotations

import argparse


def add_audit_options(parser: argparse.ArgumentParser, *, patterns: bool = True) -> None:
    """--device, --policy, --opt-in-at, --reveal, --geoip (and --no-patterns offline)."""
    parser.add_argument("--device", metavar="device.yaml",
                        help="what the handset knows about itself (IMEI, number, contacts...); "
                             "without it only pattern matches are reported")
    parser.add_argument("--policy", action="append", metavar="FILE|DIR",
                        help="policy file or folder; repeatable (default: the bundled rules/)")
    parser.add_argument("--opt-in-at", metavar="TIME",
                        help="when the user opted in: ISO 8601 with a zone "
                             "(2014-08-01T10:00:03Z), epoch seconds, or in a capture +SECONDS "
                             "from its start or frame:N (packet N); default: the first request "
                             "matching a policy's consent.opt_in, else never")
    parser.add_argument("--reveal", action="store_true",
                        help="show identifiers unmasked (the report is then personal data)")
    parser.add_argument("--geoip", metavar="FILE.mmdb",
                        help="a GeoLite2/DB-IP .mmdb to use instead of the bundled geoip2fast data")
    parser.add_argument("--declared", action="append", metavar="FILE",
                        help="what the app declares it collects and shares (Google Play Data "
                             "safety or App Store privacy label, YAML); repeatable")
    parser.add_argument("--trackers", metavar="FILE",
                        help="an Exodus tracker list (`auditor trackers refresh`) instead of "
                             "the bundled snapshot")
    if patterns:
        parser.add_argument("--no-patterns", action="store_true",
                            help="report known device values only, no pattern matches")
