"""Fixtures of notify's tests: the local fake of Alibaba Cloud SMS, and an adapter pointed at it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from notify_service.aliyun import AliyunSms
from notify_service.fake_aliyun import FakeAliyun
from notify_service.templates import TEMPLATES

# Each template as filed at the provider: a code of its own and the same parameter names.
TEMPLATE_CODES = {key: f"SMS_4{n:05d}" for n, key in enumerate(sorted(TEMPLATES))}


@pytest.fixture
def fake_aliyun() -> Iterator[FakeAliyun]:
    fake = FakeAliyun(templates={TEMPLATE_CODES[k]: t.params for k, t in TEMPLATES.items()}).start()
    yield fake
    fake.stop()


def adapter_for(fake: FakeAliyun, **overrides: object) -> AliyunSms:
    options: dict[str, object] = {
        "endpoint": fake.endpoint,
        "access_key_id": fake.access_key_id,
        "access_key_secret": fake.access_key_secret,
        "sign_name": fake.sign_name,
        "template_codes": TEMPLATE_CODES,
        "timeout_s": 5.0,
    }
    options.update(overrides)
    return AliyunSms(**options)  # type: ignore[arg-type]


@pytest.fixture
async def aliyun(fake_aliyun: FakeAliyun) -> AsyncIterator[AliyunSms]:
    adapter = adapter_for(fake_aliyun)
    yield adapter
    await adapter.aclose()
