"""Studies: many captures audited as one, on Dask, and before/after comparisons.

This package only schedules, caches and aggregates; each capture goes through the same
engine and report code as `auditor analyze`, which knows nothing of Dask.

- `corpus`: the jobs of a study, from a folder of case folders or a manifest;
- `task`: one capture's audit, cached by the SHA-256 of its inputs (what a worker runs);
- `run`: the Dask client and one task per capture, results as they complete;
- `rows`, `outputs`, `overview`: tables, the overview page and the Markdown summary;
- `command`: the `auditor study` command;
- `diff`: `auditor diff`, what changed between two reports or captures.
"""
