"""What a service is, in one value: each service's `service.py` defines `SPEC`, and every generic tool
(worker, migrations, AsyncAPI generation, contract tests) reads the service from it.
"""

from __future__ import annotations

import importlib
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import MetaData

from servicekit.consumer import Subscription
from servicekit.messages import Message
from servicekit.runtime import Runtime
from servicekit.settings import ServiceSettings

SERVICE_NAMES = ("identity", "vehicle", "license", "plate-pool", "violation", "notify")


@dataclass(frozen=True)
class Sweep:
    """A periodic job of the worker (deadlines, expiries). It reads the platform clock, never sleeps to
    wait for a deadline, and must be safe when several worker replicas run it (see `run_sweep`)."""

    name: str
    every_s: float
    run: Callable[[Runtime], Awaitable[int]]


@dataclass(frozen=True)
class ServiceSpec:
    name: str  # "plate-pool"
    settings_cls: type[ServiceSettings]
    metadata: MetaData
    published: Sequence[type[Message]] = ()
    subscriptions: Sequence[Subscription] = ()
    sweeps: Sequence[Sweep] = ()
    summary: str = ""
    # Commands this service sends to others: its own local models of them (the receiver owns the schema).
    sends: Sequence[type[Message]] = field(default_factory=tuple)

    @property
    def package(self) -> str:
        return self.name.replace("-", "_") + "_service"

    @property
    def root(self) -> Path:
        """services/<name>/ (the package lives in src/<package>/)."""
        module = importlib.import_module(self.package)
        assert module.__file__ is not None
        return Path(module.__file__).resolve().parents[2]

    def settings(self) -> ServiceSettings:
        return self.settings_cls()


def load_spec(name: str) -> ServiceSpec:
    module = importlib.import_module(name.replace("-", "_") + "_service.service")
    spec = module.SPEC
    if not isinstance(spec, ServiceSpec):
        raise TypeError(f"{module.__name__}.SPEC is not a ServiceSpec")
    return spec
