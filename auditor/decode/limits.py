"""The caps that keep decoding of one exchange bounded in memory, time and output."""

from __future__ import annotations

from dataclasses import dataclass, field

MIB = 1 << 20


@dataclass(frozen=True, slots=True)
class Limits:
    """Caps for decoding one exchange. Every layer checks them; hitting one adds a warning."""

    max_body: int = 64 * MIB  # bytes of a body that are searched; the rest is cut off
    max_decompressed: int = 64 * MIB  # bytes all decompressions of one exchange may produce
    max_ratio: int = 200  # output/input ratio one decompression may reach ...
    ratio_floor: int = 1 * MIB  # ... except that any blob may always expand to this size
    max_fields: int = 20_000  # fields yielded per exchange
    max_depth: int = 4  # layers of decoding beyond the first (the first is query:, json:, ...)


@dataclass(slots=True)
class Budget:
    """What one exchange has used of its `Limits`, and the warnings it has earned."""

    limits: Limits
    warnings: list[str] = field(default_factory=list)
    fields: int = 0  # fields yielded so far
    decompressed: int = 0  # bytes produced by decompression so far

    def warn(self, message: str) -> None:
        if message not in self.warnings:
            self.warnings.append(message)

    def take_field(self) -> bool:
        """Count one more field; False (with a warning, once) when the cap is reached."""
        if self.fields >= self.limits.max_fields:
            self.warn(f"stopped after {self.limits.max_fields} decoded fields; "
                      f"the rest of this exchange was not searched")
            return False
        self.fields += 1
        return True

    def output_cap(self, compressed_size: int) -> int:
        """How many bytes the next decompression of `compressed_size` bytes may produce."""
        by_ratio = max(compressed_size * self.limits.max_ratio, self.limits.ratio_floor)
        left = self.limits.max_decompressed - self.decompressed
        return max(0, min(by_ratio, left))


def size_text(n: int) -> str:
    """A byte count as people read it: 512 B, 3 KiB, 64 MiB."""
    for unit, size in (("GiB", 1 << 30), ("MiB", MIB), ("KiB", 1024)):
        if n >= size:
            return f"{n / size:.3g} {unit}"
    return f"{n} B"
