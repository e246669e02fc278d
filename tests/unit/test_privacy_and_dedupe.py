from __future__ import annotations

import structlog

from router.dedupe import find_merge_target, similarity
from router.logs import mask_personal_data
from router.privacy import mask_name, mask_phone, mask_text


def test_masking() -> None:
    assert mask_phone("13812345678") == "138****5678"
    assert mask_phone("0531-86081234") == "053****1234"
    assert mask_name("张三") == "张*" and mask_name("欧阳娜娜") == "欧***"
    assert (
        mask_text("电话13812345678，身份证370102199001011234") == "电话138****5678，身份证370102********1234"
    )


def test_log_processor_masks_personal_data_but_keeps_ticket_id() -> None:
    with structlog.testing.capture_logs(processors=[mask_personal_data]) as logs:
        structlog.get_logger().info(
            "x", ticket_id="T12345-abc", phone="13812345678", name="王五", note="来电人13900001111反映"
        )
    (entry,) = logs
    assert entry["ticket_id"] == "T12345-abc"
    assert entry["phone"] == "138****5678" and entry["name"] == "王*"
    assert entry["note"] == "来电人139****1111反映"


def test_near_identical_content_of_the_same_caller_merges() -> None:
    a = "市民反映历下区泉城路路灯不亮已经一周，晚上行人很不安全，要求尽快维修"
    b = "市民反映历下区泉城路的路灯不亮已一周，晚上行人很不安全，要求尽快维修。"
    c = "市民反映槐荫区小区物业乱收停车费"
    assert similarity(a, b) > 0.8 > similarity(a, c)
    target = find_merge_target(b, [{"_id": "T1", "content": c}, {"_id": "T2", "content": a}], threshold=0.8)
    assert target is not None and target.ticket_id == "T2"
    assert find_merge_target(c, [{"_id": "T2", "content": a}], threshold=0.8) is None
