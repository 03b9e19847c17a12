"""gqlgov.jsonfast: orjson where it agrees with `json`, `json` wherever orjson refuses."""

import json
import uuid
from datetime import UTC, datetime

from gqlgov import jsonfast


def test_plain_data_means_the_same_as_json():
    value = {"a": [1, 2.5, None, True], "b": {"c": "é☃"}, "d": -0.0}
    assert json.loads(jsonfast.dumps(value)) == value


def test_values_orjson_refuses_fall_back_to_json():
    for value in ({"big": 2**70}, {"s": "\ud800"}, {1: "non-string key"}):
        assert jsonfast.dumps(value) == json.dumps(value, separators=(",", ":")).encode()


def test_datetimes_and_other_objects_go_through_default_as_with_json():
    value = {"at": datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC), "id": uuid.UUID(int=5)}
    assert json.loads(jsonfast.dumps(value, default=str)) == json.loads(json.dumps(value, default=str))


def test_decoding_reads_what_json_reads_even_where_orjson_would_not():
    texts = ['{"big": 1180591620717411303424, "small": -9223372036854775808}', '{"n": NaN, "i": -Infinity}',
             '{"s": "\\ud800"}', '{"a": [1, 2.5, null, true], "b": {"c": "é☃"}}', '{"d": "1234567890123456789012"}']
    for text in texts:
        expected = repr(json.loads(text))  # repr: NaN != NaN, and 2**70 == float(2**70)
        assert repr(jsonfast.loads(text)) == expected
        assert repr(jsonfast.loads(text.encode("utf-8", "surrogatepass"))) == expected
