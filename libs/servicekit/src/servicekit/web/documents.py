"""Documents over HTTP (AR-01): read an upload's bytes with a size cap, answer a stored document."""

from __future__ import annotations

from fastapi import Request
from starlette.responses import Response

from servicekit.documents import DocumentContent, DocumentTooLarge


async def read_upload(request: Request, max_bytes: int) -> bytes:
    """The request body (the file itself, any content type: the store sniffs it), refused with 413
    DOCUMENT_TOO_LARGE as soon as it passes `max_bytes`, without reading the rest."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > max_bytes:
        raise DocumentTooLarge(
            f"the document is larger than {max_bytes} bytes", extra={"max_bytes": max_bytes}
        )
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > max_bytes:
            raise DocumentTooLarge(
                f"the document is larger than {max_bytes} bytes", extra={"max_bytes": max_bytes}
            )
        chunks.append(chunk)
    return b"".join(chunks)


def document_response(found: DocumentContent) -> Response:
    """The bytes with the sniffed type; private, never cached by a shared cache, never re-sniffed."""
    doc = found.document
    return Response(
        content=found.content,
        media_type=doc.media_type,
        headers={
            "Content-Disposition": "inline",
            "Cache-Control": "private, no-store",
            "X-Content-Type-Options": "nosniff",
            "ETag": f'"{doc.sha256}"',
        },
    )
