#!/usr/bin/python3
"""librdkafka's mock cluster (an in-memory Kafka written in C) for the kch benchmarks' `mock` group.

    /usr/bin/python3 bench/clients/rdkafka-mock.py '<json options>'

Starts a mock cluster of one broker inside this process with the librdkafka the system has (Debian's
librdkafka1, which exports the rd_kafka_mock_* API; no build), through ctypes: an rd_kafka_t handle
(a producer with no brokers of its own: the mock cluster needs a handle, and serves every connection
from one thread of its own, `rdk:mock`), then
rd_kafka_mock_cluster_new(rk, 1). Creates options.topics (names) with options.partitions partitions,
prints one JSON line {"bootstrap": "127.0.0.1:port", "librdkafka": version}, and serves until its
stdin closes (the harness closes it, or dies).

Options: topics (list of names), partitions (int), library (path of librdkafka.so.1, optional).
"""
import ctypes
import ctypes.util
import json
import sys

opts = json.loads(sys.argv[1])

RD_KAFKA_PRODUCER = 0


def load():
    path = opts.get("library") or ctypes.util.find_library("rdkafka") or "librdkafka.so.1"
    lib = ctypes.CDLL(path)
    lib.rd_kafka_version_str.restype = ctypes.c_char_p
    lib.rd_kafka_conf_new.restype = ctypes.c_void_p
    lib.rd_kafka_conf_set.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_size_t]
    lib.rd_kafka_conf_set.restype = ctypes.c_int
    lib.rd_kafka_new.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_char_p, ctypes.c_size_t]
    lib.rd_kafka_new.restype = ctypes.c_void_p
    lib.rd_kafka_destroy.argtypes = [ctypes.c_void_p]
    lib.rd_kafka_mock_cluster_new.argtypes = [ctypes.c_void_p, ctypes.c_int]
    lib.rd_kafka_mock_cluster_new.restype = ctypes.c_void_p
    lib.rd_kafka_mock_cluster_bootstraps.argtypes = [ctypes.c_void_p]
    lib.rd_kafka_mock_cluster_bootstraps.restype = ctypes.c_char_p
    lib.rd_kafka_mock_topic_create.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int, ctypes.c_int]
    lib.rd_kafka_mock_topic_create.restype = ctypes.c_int
    lib.rd_kafka_mock_cluster_destroy.argtypes = [ctypes.c_void_p]
    lib.rd_kafka_err2str.argtypes = [ctypes.c_int]
    lib.rd_kafka_err2str.restype = ctypes.c_char_p
    return lib


def fail(why):
    print(json.dumps({"error": why}), flush=True)
    sys.exit(1)


def main():
    try:
        lib = load()
    except (OSError, AttributeError) as e:
        # AttributeError: a librdkafka built without the mock API (its symbols are missing).
        fail(f"librdkafka's mock API could not be loaded: {e}")
    errstr = ctypes.create_string_buffer(512)
    conf = lib.rd_kafka_conf_new()
    # No bootstrap servers: this handle only hosts the mock cluster, it never connects anywhere.
    if lib.rd_kafka_conf_set(conf, b"log_level", b"3", errstr, len(errstr)) != 0:
        fail(errstr.value.decode())
    rk = lib.rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, len(errstr))
    if not rk:
        fail(f"rd_kafka_new: {errstr.value.decode()}")
    mcluster = lib.rd_kafka_mock_cluster_new(rk, 1)
    if not mcluster:
        fail("rd_kafka_mock_cluster_new returned NULL")
    for topic in opts.get("topics", []):
        err = lib.rd_kafka_mock_topic_create(mcluster, topic.encode(), opts["partitions"], 1)
        if err != 0:
            fail(f"rd_kafka_mock_topic_create {topic}: {lib.rd_kafka_err2str(err).decode()}")
    bootstrap = lib.rd_kafka_mock_cluster_bootstraps(mcluster).decode()
    print(json.dumps({"bootstrap": bootstrap, "librdkafka": lib.rd_kafka_version_str().decode()}), flush=True)
    # The mock cluster serves on its own thread (rdk:mock); this one waits for the harness to let go.
    sys.stdin.read()
    lib.rd_kafka_mock_cluster_destroy(mcluster)
    lib.rd_kafka_destroy(rk)


main()
