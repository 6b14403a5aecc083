"""A result whose every captured string carries HTML/script injection payloads."""

from __future__ import annotations

from dataclasses import replace

from report_samples import IMEI, Result, sample_result

from auditor.model import Observation

SCRIPT = "<script>window.__pwned=1; document.title='PWNED'</script>"
IMG = "<img src=x onerror=\"document.title='PWNED'\">"
SVG = "\"><svg onload=document.title='PWNED'>"
PAYLOADS = (SCRIPT, IMG, SVG)


def hostile_result() -> Result:
    base = sample_result()
    host = f"api{SVG}.example"
    exchanges = list(base.exchanges)
    exchanges[1] = replace(
        exchanges[1], host=host,
        url=f"http://{host}/p/{IMG}?imei={IMEI}&q={SCRIPT}",
        headers=(("Host", host), ("User-Agent", SCRIPT), ("X-Extra" + IMG, IMG)),
        source=f"capture{IMG}.pcap#pkt 20")
    observations = list(base.observations)
    observations[0] = replace(observations[0], key=f"$.{SVG}",
                              excerpt=f'{{"{SVG}": "{IMEI}", "note": "{SCRIPT}"}}',
                              detail=IMG)
    findings = [replace(f, host=host, observations=tuple(
        observations[0] if o.exchange == 2 and o.data_type == "imei" else o
        for o in f.observations)) for f in base.findings]
    inputs = [replace(base.inputs[0], path=f"captures/{SCRIPT}/capture{IMG}.pcap",
                      warnings=[f"packet 9: odd bytes {SVG}"])]
    profile = replace(base.profile, name=f"Phone {SCRIPT}")
    extra = Observation(2, "imei", "header", f"User-Agent{IMG}", ("header", "plain"), "known",
                        IMEI, excerpt=f"{IMEI} {SVG}")
    return replace(base, exchanges=exchanges, observations=[*observations, extra],
                   findings=findings, inputs=inputs, profile=profile,
                   opt_in_source=f"policy consent: POST http://x/{SCRIPT}")
