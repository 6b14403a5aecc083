"""pcap/pcapng captures, one module per step of a packet's path:

`framing` (file blocks → packets) → `packets` (link layer → IP → TCP/UDP, fragments),
opening `tunnels` on the way (GTP-U, GRE/ERSPAN, VXLAN, IP-in-IP/6in4, PPPoE, MPLS) →
`tcp` (reassembly of each direction) → `protocols` (what runs on a connection: `http1`,
`http2`, `dns`, `sip`, `tls/`) → `tls/` (`hello`: SNI/ALPN without keys, `keylog` and
`decrypt` with keys). `reader` drives them and yields `Exchange`s.
"""

from auditor.sources.pcap.reader import read_pcap

__all__ = ["read_pcap"]
