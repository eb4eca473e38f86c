"""What violation's api and worker build once per process beside the servicekit `Runtime`: the document
store (evidence, issued decisions; AR-01), the SMS codes (VI-03, NT-02) and the banks (VI-04)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, FastAPI, Request

from servicekit.documents import DocumentStore
from servicekit.runtime import Runtime
from servicekit.verification import VerificationCodes
from violation_service.banks import Bank, banks_of
from violation_service.settings import ViolationSettings


@dataclass
class ViolationContext:
    runtime: Runtime
    documents: DocumentStore
    codes: VerificationCodes
    banks: dict[str, Bank]
    secret: bytes  # signs the papers' QR codes


_BY_RUNTIME: dict[int, ViolationContext] = {}


def context_for(runtime: Runtime) -> ViolationContext:
    found = _BY_RUNTIME.get(id(runtime))
    if found is not None and found.runtime is runtime:
        return found
    settings = runtime.settings
    violation = settings if isinstance(settings, ViolationSettings) else ViolationSettings()
    ctx = ViolationContext(
        runtime=runtime,
        documents=DocumentStore.from_settings(runtime.metadata, settings.documents),
        codes=VerificationCodes(
            runtime.redis, runtime.clock, settings.secret_key.get_secret_value().encode(), key_prefix="vi:vc"
        ),
        banks=banks_of(violation.bank_settings()),
        secret=settings.secret_key.get_secret_value().encode(),
    )
    _BY_RUNTIME[id(runtime)] = ctx
    return ctx


async def open_context(app: FastAPI) -> None:
    app.state.violation = context_for(app.state.runtime)


async def close_context(app: FastAPI) -> None:
    ctx = getattr(app.state, "violation", None)
    if ctx is not None:
        _BY_RUNTIME.pop(id(ctx.runtime), None)
        del app.state.violation


def get_context(request: Request) -> ViolationContext:
    ctx = request.app.state.violation
    assert isinstance(ctx, ViolationContext)
    return ctx


ContextDep = Annotated[ViolationContext, Depends(get_context)]
