"""Records: what templates see of the Kafka record and of the event."""

from __future__ import annotations

from stream_notifier.records import Event, RawRecord, TopicPartition


def test_raw_record_template_view() -> None:
    raw = RawRecord("t", 2, 9, b"key-\xff", b"{}", (("a", b"1"), ("b", None), ("a", b"2")), 1234)
    assert raw.tp == TopicPartition("t", 2)
    assert str(raw.tp) == "t[2]"
    assert raw.header("a") == b"1"  # the first one
    assert raw.header("missing") is None
    assert raw.template_view() == {
        "topic": "t",
        "partition": 2,
        "offset": 9,
        "key": "key-\ufffd",
        "timestamp": 1234,
        "headers": {"a": "2", "b": None},  # the last one wins in a mapping
    }


def test_event_template_view_required_attributes_win() -> None:
    event = Event("id-1", "type-1", "src", "1.0", {"x": 1}, {"subject": "s", "id": "spoof"})
    assert event.template_view() == {
        "subject": "s",
        "id": "id-1",
        "type": "type-1",
        "source": "src",
        "specversion": "1.0",
        "data": {"x": 1},
    }
