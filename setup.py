"""Package layout (everything else is in pyproject.toml).

The bundled policies, `organisations.yaml` and `key-hints.yaml` live in `rules/` at the top
of the repository, where a reader looks for them; installed, they are the package data
`auditor/rules/` (found by `auditor.BUNDLED_RULES`). setuptools' `package-dir` maps the one
onto the other; `packages.find` in pyproject.toml cannot add a package from another folder.
"""

from setuptools import find_packages, setup

setup(
    packages=[*find_packages(include=["auditor", "auditor.*"]), "auditor.rules"],
    package_dir={"auditor.rules": "rules"},
    package_data={"auditor": ["report/templates/*", "study/templates/*",
                              "data/*"],  # data: the Exodus tracker list, its ODbL notice
                  "auditor.rules": ["*.yaml", "examples/*.yaml"]},
)
