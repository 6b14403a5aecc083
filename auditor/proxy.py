"""`auditor proxy`: mitmproxy in-process with the auditor addon, for a phone to use.

On start it says how to connect a phone; each finding is printed as it happens; the user
can mark the opt-in moment live (Enter, `kill -USR1 <pid>`, or the mitmproxy command
`auditor.opt_in`); SIGINT and SIGTERM shut mitmproxy down cleanly, which writes the report
and the flow file completely before the process exits.
"""

from __future__ import annotations

import argparse
import asyncio
import fcntl
import logging
import os
import signal
import socket
import struct
import sys
from collections.abc import Sequence
from pathlib import Path

from mitmproxy import ctx, exceptions, options
from mitmproxy.tools.dump import DumpMaster
from rich.console import Console

from auditor.addon import Auditor
from auditor.options import add_audit_options

_SIOCGIFADDR = 0x8915  # Linux ioctl: the IPv4 address of an interface


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `auditor proxy`."""
    parser.add_argument("--listen-host", default="",
                        help="address to listen on (default: all interfaces)")
    parser.add_argument("--listen-port", type=int, default=8080,
                        help="port to listen on (default: 8080; 0 picks a free one)")
    parser.add_argument("--mode", action="append", metavar="MODE",
                        help="mitmproxy mode: regular (default), transparent, wireguard, "
                             "socks5, upstream:URL, ...; repeat for several")
    add_audit_options(parser, patterns=False)
    parser.add_argument("--report", metavar="FILE",
                        help="write the report here on exit (format from the extension)")
    parser.add_argument("--save", metavar="FILE",
                        help="save every flow to this mitmproxy flow file")
    parser.add_argument("--confdir", default="~/.mitmproxy",
                        help="mitmproxy's folder, with its CA (default: ~/.mitmproxy)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        dest="mitmproxy_options",
                        help="a mitmproxy option, e.g. ssl_insecure=true (repeatable)")


def main(argv: Sequence[str] | None = None) -> int:
    """`auditor proxy` as a program of its own (before and besides the `auditor` CLI)."""
    parser = argparse.ArgumentParser(prog="auditor proxy", description=__doc__.splitlines()[0])
    add_arguments(parser)
    return run(parser.parse_args(argv))


def run(args: argparse.Namespace) -> int:
    """Run the proxy until SIGINT or SIGTERM; 0 when done, 2 on bad options, 3 when
    uploads were not analysed (the report says INCOMPLETE)."""
    console = Console(stderr=True)
    try:
        return asyncio.run(_serve(args, console))
    except exceptions.OptionsError as e:
        print(f"auditor proxy: {e}", file=sys.stderr)  # one line, never wrapped
        return 2


async def _serve(args: argparse.Namespace, console: Console) -> int:
    logging.getLogger().setLevel(logging.INFO)
    opts = options.Options()
    master = DumpMaster(opts, with_termlog=True, with_dumper=False)
    auditor = Auditor(console)
    master.addons.add(auditor, _ConnectHelp(console, args.confdir))
    modes = args.mode or ["regular"]
    opts.update(
        # mitmproxy's own info lines are noise here, except the WireGuard client config
        termlog_verbosity="info" if any(m.startswith("wireguard") for m in modes) else "warn",
        listen_host=args.listen_host,
        listen_port=args.listen_port,
        mode=modes,
        confdir=args.confdir,
        save_stream_file=args.save,
        auditor_device=args.device,
        auditor_policy=args.policy or [],
        auditor_opt_in_at=args.opt_in_at,
        auditor_report=args.report,
        auditor_reveal=args.reveal,
        auditor_geoip=args.geoip,
        auditor_declared=args.declared or [],
        auditor_trackers=args.trackers,
    )
    opts.set(*args.mitmproxy_options)
    _install_signals(master, auditor)
    try:
        await master.run()
    except SystemExit as e:  # mitmproxy's startup check (e.g. the port is taken)
        return 2 if e.code else 0
    if auditor.result is not None:
        _print_summary(auditor, console, args.reveal)
        if auditor.result.incomplete:
            return 3  # cli.ExitCode.INCOMPLETE: uploads were not analysed
    return 0


def _install_signals(master: DumpMaster, auditor: Auditor) -> None:
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGINT, master.shutdown)
    loop.add_signal_handler(signal.SIGTERM, master.shutdown)
    loop.add_signal_handler(signal.SIGUSR1, auditor.mark_opt_in, "SIGUSR1")
    if hasattr(signal, "SIGPIPE"):  # a vanished client must not kill the proxy
        signal.signal(signal.SIGPIPE, signal.SIG_IGN)
    if sys.stdin is not None and sys.stdin.isatty():
        stdin = sys.stdin.fileno()

        def on_enter() -> None:
            if os.read(stdin, 4096):
                auditor.mark_opt_in("Enter key")
            else:  # end of input: stop listening to it
                loop.remove_reader(stdin)

        loop.add_reader(stdin, on_enter)


def _print_summary(auditor: Auditor, console: Console, reveal: bool) -> None:
    from auditor.report import print_terminal

    assert auditor.result is not None
    print_terminal(auditor.result, console, reveal=reveal)


class _ConnectHelp:
    """Prints, once the proxy listens, what to type into the phone."""

    def __init__(self, console: Console, confdir: str) -> None:
        self.console = console
        self.confdir = confdir

    def running(self) -> None:
        server = ctx.master.addons.get("proxyserver")
        listening = server.listen_addrs() if server is not None else []
        for line in connect_instructions(listening, self.confdir, ctx.options.mode):
            self.console.print(line, markup=False, highlight=False)


def connect_instructions(listening: Sequence[tuple], confdir: str,
                         modes: Sequence[str]) -> list[str]:
    """What a user needs to point a phone at this proxy, one line each."""
    ports = sorted({addr[1] for addr in listening})
    hosts = sorted({addr[0] for addr in listening})
    wildcard = any(h in ("", "0.0.0.0", "::") for h in hosts)
    addresses = local_ipv4_addresses() if wildcard else hosts
    lines = [(f"auditor proxy listening on {', '.join(_fmt(a) for a in listening)} "
             f"(mode: {', '.join(modes)})")]
    if any(m.startswith("wireguard") for m in modes):
        lines.append("WireGuard: install the WireGuard app on the phone and import the client "
                     "configuration mitmproxy prints above (keys are kept in the confdir)")
    else:
        lines.append("On the phone: Wi-Fi settings > this network > Proxy: Manual")
        for address in addresses or ["<this machine's address>"]:
            for port in ports:
                lines.append(f"  proxy host {address}  port {port}")
    ca = Path(os.path.expanduser(confdir))
    lines += [
        "Install the CA: open http://mitm.it on the phone (through the proxy) and follow it,",
        (f"  or copy {ca / 'mitmproxy-ca-cert.cer'} (Android) / "
        f"{ca / 'mitmproxy-ca-cert.pem'} (iOS, others) to the phone"),
        ("Mark the opt-in moment: press Enter here, or run "
        f"kill -USR1 {os.getpid()}; stop with Ctrl-C (the report is written then)"),
    ]
    return lines


def local_ipv4_addresses() -> list[str]:
    """This machine's non-loopback IPv4 addresses, without sending any packet."""
    found: list[str] = []
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        for _, name in socket.if_nameindex():
            try:
                packed = fcntl.ioctl(sock.fileno(), _SIOCGIFADDR,
                                     struct.pack("256s", name.encode()[:15]))
            except OSError:  # no IPv4 address on this interface
                continue
            address = socket.inet_ntoa(packed[20:24])
            if not address.startswith("127.") and address not in found:
                found.append(address)
    return found


def _fmt(addr: tuple) -> str:
    host = addr[0] or "*"
    return f"[{host}]:{addr[1]}" if ":" in host else f"{host}:{addr[1]}"
