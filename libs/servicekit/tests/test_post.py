"""The post adapter both vehicle and license hand mailed items to (VH-05, DL-02)."""

from __future__ import annotations

import re
import uuid

from servicekit.post import LOCAL_POST, LocalPost, Parcel, post_service


async def test_vh05_the_local_post_keeps_each_parcel_under_its_own_tracking_number() -> None:
    post = LocalPost()
    parcel = Parcel(
        case_id=uuid.uuid4(),
        recipient="1233",
        phone="13800138000",
        address="河北省石家庄市长安区建设北大街1号",
        contents="机动车驾驶证",
        collect_damaged_item=True,
    )
    first, second = await post.dispatch(parcel), await post.dispatch(parcel)
    assert first != second
    assert re.fullmatch(r"LP[0-9A-F]{16}", first)
    assert post.parcels == {first: parcel, second: parcel}


def test_vh05_dev_and_test_use_the_one_local_post() -> None:
    assert post_service() is LOCAL_POST
