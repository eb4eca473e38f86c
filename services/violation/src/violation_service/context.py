"""What violation's api and worker build once per process beside the servicekit `Runtime`: the document
store (evidence, issued decisions; AR-01), the SMS codes (VI-03, NT-02) and the banks (VI-04)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, FastAPI, Request

from servicekit.documents import DocumentStore
from servicekit.runtime import Runtime
from servicekit.verification import VerificationCodes


@dataclass
class ViolationContext:
    runtime: Runtime
    documents: DocumentStore
    codes: VerificationCodes


_BY_RUNTIME: dict[int, ViolationContext] = {}


def context_for(runtime: Runtime) -> ViolationContext:
    found = _BY_RUNTIME.get(id(runtime))
    if found is not None and found.runtime is runtime:
        return found
    settings = runtime.settings
    ctx = ViolationContext(
        runtime=runtime,
        documents=DocumentStore.from_settings(runtime.metadata, settings.documents),
        codes=VerificationCodes(
            runtime.redis, runtime.clock, settings.secret_key.get_secret_value().encode(), key_prefix="vi:vc"
        ),
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
