"""What a study covers: case folders under a folder, or the rows of a manifest.

A case folder holds one or more captures, a `device.yaml`, any key logs, and optionally a
`study.yaml` (labels, policies, opt-in) and an `expect.yaml` (read as `auditor check` reads
it, for its policies, device, captures and opt-in). Every capture is one job.

A manifest is a CSV file with a header row, or a YAML file, naming one capture per row:

```csv
capture,device,keylog,policies,opt_in_at,app,version,firmware,date
redmi/2014.pcap,redmi/device.yaml,,rules/,,messenger,1.0,JHCCNBH45.0,2014-07-30
```

```yaml
policies: [rules/]            # defaults for every entry (each entry may override them)
device: device.yaml
labels: {firmware: MIUI-5}
captures:
  - {capture: redmi/2014.pcap, app: messenger, version: "1.0", date: 2014-07-30}
  - {capture: redmi/fixed.pcap, keylog: [redmi/keys.log], labels: {firmware: MIUI-5.8}}
```

Paths are relative to the manifest (or to the `study.yaml`). Several key logs or
policies in one CSV cell are separated by `;`. Columns and keys other than the known ones
are labels too.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from auditor.check import _CAPTURE_SUFFIXES, EXPECT_FILE, _find_keylogs, load_case
from auditor.model import InputError
from auditor.yamlcheck import compose_yaml

STUDY_FILE = "study.yaml"
#: Labels every table has a column for, empty when a capture has none.
LABELS = ("app", "version", "firmware", "date")
_ENTRY_KEYS = {"capture", "device", "keylog", "policies", "opt_in_at", "labels"}
_STUDY_KEYS = {"labels", "policies", "device", "opt_in_at", "description"}


@dataclass(frozen=True)
class CaptureJob:
    """One capture of a study, with everything needed to audit it on any machine."""

    capture: str  # the capture's path as the user gave it (manifest cell, or found in INPUT)
    path: str  # the absolute path it is opened with (and named by in its report)
    device: str | None = None
    keylogs: tuple[str, ...] = ()
    policies: tuple[str, ...] | None = None  # None: the bundled rules/
    opt_in_at: str | None = None
    labels: tuple[tuple[str, str], ...] = ()  # (name, value), names sorted

    @property
    def label_map(self) -> dict[str, str]:
        return dict(self.labels)


@dataclass
class Corpus:
    """The jobs of a study and where they came from."""

    source: str
    jobs: list[CaptureJob] = field(default_factory=list)

    @property
    def label_names(self) -> list[str]:
        extra = sorted({name for job in self.jobs for name, _ in job.labels} - set(LABELS))
        return [*LABELS, *extra]


def load_corpus(source: str, *, policies: list[str] | None = None,
                device: str | None = None) -> Corpus:
    """The jobs named by a folder tree or a manifest. `policies` and `device` are the
    defaults for captures that name none. Raises InputError naming the file and line."""
    for item in [*(policies or []), *([device] if device else [])]:
        if not Path(item).exists():
            raise InputError(f"{item}: no such file or folder")
    policies = [_absolute(p) for p in policies] if policies else None
    device = _absolute(device) if device else None
    path = Path(source)
    if path.is_dir():
        corpus = Corpus(source, _folder_jobs(path, policies, device))
    elif path.is_file():
        if path.suffix.lower() == ".csv":
            corpus = Corpus(source, _csv_jobs(path, policies, device))
        elif path.suffix.lower() in (".yaml", ".yml"):
            corpus = Corpus(source, _yaml_jobs(path, policies, device))
        else:
            raise InputError(f"{source}: a study takes a folder of case folders or a manifest "
                             f"(.csv, .yaml); this is neither")
    else:
        raise InputError(f"{source}: no such folder or manifest")
    if not corpus.jobs:
        raise InputError(f"{source}: no captures found (.pcap, .pcapng, .mitm, .har)")
    return corpus


# -- folder trees -------------------------------------------------------------------------


def _folder_jobs(root: Path, policies: list[str] | None,
                 device: str | None) -> list[CaptureJob]:
    jobs = []
    for folder in sorted({root, *(p for p in root.rglob("*") if p.is_dir())}):
        # named like a capture is enough here: a file that is not one fails its own job
        captures = sorted(str(p) for p in folder.iterdir()
                          if p.is_file() and p.suffix.lower() in _CAPTURE_SUFFIXES)
        expect = folder / EXPECT_FILE
        if not captures and not expect.is_file():
            continue
        settings = _study_file(folder / STUDY_FILE)
        keylogs: list[str] = _find_keylogs(folder)
        case_policies = settings.get("policies") or policies
        case_device = settings.get("device") or _beside(folder / "device.yaml") or device
        opt_in = settings.get("opt_in_at")
        if expect.is_file():
            case = load_case(expect)
            captures, keylogs = case.captures, case.keylogs
            case_policies = settings.get("policies") or case.policies or policies
            case_device = settings.get("device") or case.device or device
            opt_in = settings.get("opt_in_at") or case.opt_in_at
        for capture in captures:
            jobs.append(CaptureJob(capture=_relative(capture), path=_absolute(capture),
                                   device=_absolute(case_device) if case_device else None,
                                   keylogs=tuple(_absolute(k) for k in keylogs),
                                   policies=tuple(_absolute(p) for p in case_policies)
                                   if case_policies else None,
                                   opt_in_at=opt_in, labels=settings.get("labels", ())))
    return jobs


def _beside(path: Path) -> str | None:
    return str(path) if path.is_file() else None


def _relative(path: str) -> str:
    """A path found under INPUT as the user would write it: relative when it can be."""
    try:
        return str(Path(path).resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _absolute(path: str) -> str:
    """Workers may run elsewhere (another folder, another machine with the same mounts):
    every path a job carries is absolute."""
    return str(Path(path).resolve())


def _study_file(path: Path) -> dict:
    if not path.is_file():
        return {}
    root, data = _read_yaml(path)
    if not isinstance(data, dict):
        raise InputError(f"{path}:1: expected a mapping of {', '.join(sorted(_STUDY_KEYS))}")
    for key_node, _ in root.value:
        if key_node.value not in _STUDY_KEYS:
            raise InputError(f"{path}:{key_node.start_mark.line + 1}: unknown key "
                             f"'{key_node.value}' (known: {', '.join(sorted(_STUDY_KEYS))})")
    def at(key: str) -> str:
        return f"{path}:{_line_of(root, key)}"

    return {
        "labels": _labels(data.get("labels") or {}, at("labels")),
        "policies": _paths(data.get("policies"), path.parent, at("policies")),
        "device": _paths(data.get("device"), path.parent, at("device"), single=True),
        "opt_in_at": None if data.get("opt_in_at") is None else str(data["opt_in_at"]),
    }


# -- manifests ----------------------------------------------------------------------------


def _csv_jobs(path: Path, policies: list[str] | None, device: str | None) -> list[CaptureJob]:
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            rows = list(csv.reader(f))
    except (OSError, UnicodeDecodeError) as e:
        raise InputError(f"{path}: cannot read the manifest: {e}") from None
    except csv.Error as e:
        raise InputError(f"{path}: not a valid CSV file: {e}") from None
    if not rows:
        raise InputError(f"{path}:1: empty manifest; the first row names the columns "
                         f"(at least 'capture')")
    header = [name.strip() for name in rows[0]]
    if "capture" not in header:
        raise InputError(f"{path}:1: no 'capture' column (the header row is "
                         f"{', '.join(header) or 'empty'})")
    jobs = []
    for number, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            raise InputError(f"{path}:{number}: {len(row)} cells, but the header has "
                             f"{len(header)} columns")
        cells = {name: cell.strip() for name, cell in zip(header, row, strict=True)}
        entry = {k: cells[k] for k in ("capture", "device", "opt_in_at") if cells.get(k)}
        for key in ("keylog", "policies"):
            if cells.get(key):
                entry[key] = [part.strip() for part in cells[key].split(";") if part.strip()]
        entry["labels"] = {k: v for k, v in cells.items() if k not in _ENTRY_KEYS and v}
        jobs.append(_manifest_job(entry, path, number, policies, device))
    return jobs


def _yaml_jobs(path: Path, policies: list[str] | None, device: str | None) -> list[CaptureJob]:
    root, data = _read_yaml(path)
    if not isinstance(data, dict) or not isinstance(data.get("captures"), list):
        raise InputError(f"{path}:1: a YAML manifest is a mapping with a 'captures' list "
                         f"(and optional policies, device, labels defaults)")
    where = f"{path}:{_line_of(root, 'policies')}"
    policies = _paths(data.get("policies"), path.parent, where) or policies
    device = _paths(data.get("device"), path.parent, f"{path}:{_line_of(root, 'device')}",
                    single=True) or device
    defaults = dict(_labels(data.get("labels") or {}, f"{path}:{_line_of(root, 'labels')}"))
    entries_node = next(v for k, v in root.value if k.value == "captures")
    jobs = []
    for node, entry in zip(entries_node.value, data["captures"], strict=True):
        line = node.start_mark.line + 1
        if isinstance(entry, str):
            entry = {"capture": entry}
        if not isinstance(entry, dict):
            raise InputError(f"{path}:{line}: an entry is a capture path or a mapping with "
                             f"'capture'")
        labels = dict(defaults)
        labels.update(dict(_labels(entry.get("labels") or {}, f"{path}:{line}")))
        labels.update({k: v for k, v in entry.items() if k not in _ENTRY_KEYS})
        entry = {**entry, "labels": labels}
        for key in ("keylog", "policies"):
            if isinstance(entry.get(key), str):
                entry[key] = [entry[key]]
        jobs.append(_manifest_job(entry, path, line, policies, device))
    return jobs


def _manifest_job(entry: dict, manifest: Path, line: int, policies: list[str] | None,
                  device: str | None) -> CaptureJob:
    where = f"{manifest}:{line}"
    capture = entry.get("capture")
    if not isinstance(capture, str) or not capture:
        raise InputError(f"{where}: no capture path")
    opened = manifest.parent / capture
    if not opened.is_file():
        raise InputError(f"{where}: capture {capture} not found (looked for {opened})")
    return CaptureJob(
        capture=capture, path=_absolute(str(opened)),
        device=_paths(entry.get("device"), manifest.parent, where, single=True) or device,
        keylogs=tuple(_paths(entry.get("keylog"), manifest.parent, where) or ()),
        policies=tuple(_paths(entry.get("policies"), manifest.parent, where) or policies or ())
        or None,
        opt_in_at=None if entry.get("opt_in_at") in (None, "") else str(entry["opt_in_at"]),
        labels=_labels(entry.get("labels") or {}, where))


# -- shared -------------------------------------------------------------------------------


def _read_yaml(path: Path) -> tuple[yaml.Node, object]:
    root, data = compose_yaml(path, "study file")
    if root is not None and not isinstance(root, yaml.MappingNode):
        raise InputError(f"{path}:{root.start_mark.line + 1}: expected a mapping")
    return root, data


def _line_of(root: yaml.Node, key: str) -> int:
    for key_node, _ in root.value:
        if key_node.value == key:
            return key_node.start_mark.line + 1
    return 1


def _labels(value: object, where: str) -> tuple[tuple[str, str], ...]:
    if not isinstance(value, dict):
        raise InputError(f"{where}: labels are a mapping of names to values")
    return tuple(sorted((str(k), "" if v is None else str(v)) for k, v in value.items()))


def _paths(value: object, base: Path, where: str, *, single: bool = False):
    """Paths relative to `base`; None when not given. Missing files are errors."""
    if value in (None, "", []):
        return None
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not all(isinstance(i, str) for i in items) or \
            (single and len(items) != 1):
        raise InputError(f"{where}: expected {'a path' if single else 'a path or a list of paths'}")
    paths = []
    for item in items:
        full = base / item
        if not full.exists():
            raise InputError(f"{where}: {item} not found (looked for {full})")
        paths.append(_absolute(str(full)))
    return paths[0] if single else paths
