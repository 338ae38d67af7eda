"""The producer's partitioner picks the partition Kafka's default partitioner picks."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from stream_app.kafka.partitioner import KafkaPartitioner


def java_murmur2(data: bytes) -> int:
    """Kafka's Utils.murmur2, transcribed from the Java client (seed 0x9747b28c), written
    here independently of aiokafka's port."""
    m, r = 0x5BD1E995, 24
    length = len(data)
    h = (0x9747B28C ^ length) & 0xFFFFFFFF
    for i in range(0, length - length % 4, 4):
        k = int.from_bytes(data[i : i + 4], "little")
        k = (k * m) & 0xFFFFFFFF
        k ^= k >> r
        k = (k * m) & 0xFFFFFFFF
        h = (h * m) & 0xFFFFFFFF
        h ^= k
    tail = data[length - length % 4 :]
    if len(tail) >= 3:
        h ^= tail[2] << 16
    if len(tail) >= 2:
        h ^= tail[1] << 8
    if len(tail) >= 1:
        h ^= tail[0]
        h = (h * m) & 0xFFFFFFFF
    h ^= h >> 13
    h = (h * m) & 0xFFFFFFFF
    h ^= h >> 15
    return h


def test_known_java_client_values() -> None:
    # From Kafka's own test of Utils.murmur2 (UtilsTest.testMurmur2), the positive form the
    # default partitioner uses.
    assert java_murmur2(b"21") & 0x7FFFFFFF == -973932308 & 0x7FFFFFFF
    assert java_murmur2(b"foobar") & 0x7FFFFFFF == -790332482 & 0x7FFFFFFF


@settings(max_examples=500, deadline=None)
@given(key=st.binary(max_size=80), n=st.integers(min_value=1, max_value=64))
def test_same_partition_as_kafka_default(key: bytes, n: int) -> None:
    partitioner = KafkaPartitioner()
    partitions = list(range(n))
    expected = partitions[(java_murmur2(key) & 0x7FFFFFFF) % n]
    assert partitioner(key, partitions, partitions) == expected
