"""CloudEvents over Kafka: structured and binary mode, and every way a record is refused."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from stream_notifier.decode import CloudEventsJsonDecoder
from stream_notifier.errors import DecodeError
from stream_notifier.records import Event, Headers, RawRecord
from tests.unit._support import cloudevent, example_event, record

DECODER = CloudEventsJsonDecoder()


def decode(raw: RawRecord) -> Event:
    return DECODER.decode(raw)


def decode_error(raw: RawRecord) -> DecodeError:
    with pytest.raises(DecodeError) as caught:
        decode(raw)
    assert caught.value.stage == "decode"
    return caught.value


def binary(value: bytes | None, **headers: str | None) -> RawRecord:
    base: dict[str, str | None] = {
        "ce_specversion": "1.0",
        "ce_id": "evt-b",
        "ce_type": "thing.happened",
        "ce_source": "svc",
    }
    base.update(headers)
    encoded: Headers = tuple(
        (k.replace("_dash_", "-"), None if v is None else v.encode()) for k, v in base.items()
    )
    return RawRecord("events", 0, 0, None, value, encoded)


class TestStructured:
    def test_example_event(self) -> None:
        event = decode(record(example_event("webhook-endpoint-disabled")))
        assert event.id == "evt_01HZX4T1Q8W2E6R5"
        assert event.type == "webhook.endpoint_disabled"
        assert event.source == "webhook-delivery-worker"
        assert event.specversion == "1.0"
        assert event.data["failure_count"] == 25
        assert event.attributes == {
            "time": "2026-12-04T09:30:00Z",
            "subject": "endpoints/ep_987",
            "datacontenttype": "application/json",
        }

    def test_extensions_are_kept_as_attributes(self) -> None:
        raw = record(cloudevent({"a": 1}, traceparent="00-abc-01", partitionkey="k1", tenant=7))
        event = decode(raw)
        assert event.attributes == {"traceparent": "00-abc-01", "partitionkey": "k1", "tenant": 7}
        view = event.template_view()
        assert view["traceparent"] == "00-abc-01"
        assert view["tenant"] == 7
        assert view["data"] == {"a": 1}
        assert view["id"] == "evt-1"

    @pytest.mark.parametrize("data", [{"a": [1, 2]}, [1, 2], "text", 0, None])
    def test_data_of_any_json_type(self, data: Any) -> None:
        document = cloudevent(id="e")
        document["data"] = data
        assert decode(record(orjson.dumps(document))).data == data

    def test_event_without_data(self) -> None:
        assert decode(record(cloudevent())).data is None

    @pytest.mark.parametrize("value", [b"{not json", b"", b'{"id": "1",', b"\xff\xfe"])
    def test_malformed_json(self, value: bytes) -> None:
        error = decode_error(record(value))
        assert error.message.startswith("record value is not valid JSON")

    @pytest.mark.parametrize(
        ("value", "kind"), [(b"[1, 2]", "list"), (b'"text"', "str"), (b"42", "int")]
    )
    def test_non_object_value(self, value: bytes, kind: str) -> None:
        error = decode_error(record(value))
        assert error.message == f"structured CloudEvent must be a JSON object, got {kind}"

    def test_null_value(self) -> None:
        error = decode_error(record(None))
        assert error.message == "record value is empty (null)"

    @pytest.mark.parametrize(
        ("missing", "expected"),
        [
            (["id"], "id"),
            (["type", "source"], "type, source"),
            (["specversion"], "specversion"),
            (["id", "type", "source", "specversion"], "id, type, source, specversion"),
        ],
    )
    def test_missing_required_attributes(self, missing: list[str], expected: str) -> None:
        document = cloudevent({"a": 1})
        for name in missing:
            del document[name]
        error = decode_error(record(document))
        assert error.message == f"CloudEvent lacks required attribute(s): {expected}"

    @pytest.mark.parametrize("value", ["", None])
    def test_empty_required_attribute_counts_as_missing(self, value: Any) -> None:
        error = decode_error(record(cloudevent({"a": 1}, id=value)))
        assert error.message == "CloudEvent lacks required attribute(s): id"

    @pytest.mark.parametrize("version", ["0.3", "2.0", "1"])
    def test_unsupported_specversion(self, version: str) -> None:
        error = decode_error(record(cloudevent({"a": 1}, specversion=version)))
        assert error.message == f"unsupported CloudEvents specversion {version!r}"

    def test_data_base64_refused(self) -> None:
        document = cloudevent()
        document["data_base64"] = "aGVsbG8="
        error = decode_error(record(document))
        assert error.message == "data_base64 is not supported: send JSON data"


class TestBinary:
    def test_headers_and_content_type(self) -> None:
        raw = binary(
            b'{"user_id": "5"}',
            ce_time="2026-01-01T00:00:00Z",
            ce_traceparent="00-xyz-01",
            content_dash_type="application/json; charset=utf-8",
        )
        event = decode(raw)
        assert (event.id, event.type, event.source, event.specversion) == (
            "evt-b",
            "thing.happened",
            "svc",
            "1.0",
        )
        assert event.data == {"user_id": "5"}
        assert event.attributes == {
            "time": "2026-01-01T00:00:00Z",
            "traceparent": "00-xyz-01",
            "datacontenttype": "application/json; charset=utf-8",
        }

    def test_without_content_type_data_is_json(self) -> None:
        assert decode(binary(b"[1, 2]")).data == [1, 2]

    def test_plus_json_media_type(self) -> None:
        raw = binary(b'{"a": 1}', content_dash_type="application/vnd.acme+json")
        assert decode(raw).data == {"a": 1}

    def test_ce_datacontenttype_header_is_used_without_content_type(self) -> None:
        raw = binary(b"hello", ce_datacontenttype="text/plain")
        error = decode_error(raw)
        assert error.message == "unsupported datacontenttype 'text/plain' in binary mode"

    def test_null_value_means_no_data(self) -> None:
        event = decode(binary(None))
        assert event.data is None

    def test_non_ce_headers_are_not_attributes(self) -> None:
        raw = binary(b"{}", traceparent="00-abc-01")
        assert "traceparent" not in decode(raw).attributes

    def test_malformed_json_value(self) -> None:
        error = decode_error(binary(b"{oops"))
        assert error.message.startswith("record value is not valid JSON")

    def test_missing_required_header(self) -> None:
        error = decode_error(binary(b"{}", ce_source=None))
        assert error.message == "CloudEvent lacks required attribute(s): source"

    def test_unsupported_specversion(self) -> None:
        error = decode_error(binary(b"{}", ce_specversion="0.3"))
        assert error.message == "unsupported CloudEvents specversion '0.3'"

    def test_structured_value_with_binary_headers_is_read_as_binary(self) -> None:
        # ce_specversion present: the value is the data, not an envelope.
        raw = binary(orjson.dumps(cloudevent({"a": 1}, id="inner")))
        event = decode(raw)
        assert event.id == "evt-b"
        assert event.data["id"] == "inner"
