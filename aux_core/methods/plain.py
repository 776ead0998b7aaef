"""Plain training: cross-entropy on the final classifier, no auxiliary heads."""
from __future__ import annotations

from dataclasses import dataclass

from .base import Method


@dataclass
class Plain(Method):
    name = "plain"
    vectorizable = True
