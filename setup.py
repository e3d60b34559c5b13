"""The package list, found rather than written down: every folder under ``src`` installs
as ``presence_gateway.<folder>`` (pyproject.toml maps the root), the data-only ones
(``entrypoints/demo``) included, so a new folder cannot be left out."""

from setuptools import find_namespace_packages, setup

FOLDERS = find_namespace_packages("src", exclude=["*__pycache__*"])

setup(packages=["presence_gateway", *(f"presence_gateway.{name}" for name in FOLDERS)])
