"""A tiny Kafka wire-protocol codec for Fjord's integration tests.

Only what the tests need: request headers v1/v2, ApiVersions v0..v3, Metadata v1,
Produce v3/v7, Fetch v4, ListOffsets v1, DeleteRecords v0, OffsetForLeaderEpoch v3,
DescribeLogDirs v1 and DescribeCluster v0, plus a RecordBatch v2 builder/parser with a
table-driven CRC-32C. Everything is written with the struct module so that tests can build
malformed input byte by byte.
"""

import socket
import struct
import time

# API keys.
PRODUCE = 0
FETCH = 1
LIST_OFFSETS = 2
METADATA = 3
API_VERSIONS = 18
CREATE_TOPICS = 19
DELETE_RECORDS = 21
OFFSET_FOR_LEADER_EPOCH = 23
DESCRIBE_LOG_DIRS = 35
DESCRIBE_CLUSTER = 60

# Error codes.
NONE = 0
OFFSET_OUT_OF_RANGE = 1
CORRUPT_MESSAGE = 2
UNKNOWN_TOPIC_OR_PARTITION = 3
LEADER_NOT_AVAILABLE = 5
MESSAGE_TOO_LARGE = 10
INVALID_REQUIRED_ACKS = 21
INVALID_TIMESTAMP = 32
UNSUPPORTED_VERSION = 35
FETCH_SESSION_ID_NOT_FOUND = 70
INVALID_FETCH_SESSION_EPOCH = 71

CLIENT_ID = "fjord-integration"

# ---------------------------------------------------------------------------------------
# CRC-32C (Castagnoli), reflected polynomial 0x82F63B78, table driven.


def _make_crc32c_table():
    table = []
    for n in range(256):
        c = n
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        table.append(c)
    return table


_CRC32C_TABLE = _make_crc32c_table()


def crc32c(data, crc=0):
    crc ^= 0xFFFFFFFF
    table = _CRC32C_TABLE
    for b in data:
        crc = table[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


# ---------------------------------------------------------------------------------------
# Primitive encoders.


def i8(v):
    return struct.pack(">b", v)


def i16(v):
    return struct.pack(">h", v)


def i32(v):
    return struct.pack(">i", v)


def i64(v):
    return struct.pack(">q", v)


def boolean(v):
    return b"\x01" if v else b"\x00"


def string(s):
    if s is None:
        return i16(-1)
    b = s.encode() if isinstance(s, str) else s
    return i16(len(b)) + b


def bytes_(b):
    if b is None:
        return i32(-1)
    return i32(len(b)) + b


def array(items, enc):
    if items is None:
        return i32(-1)
    return i32(len(items)) + b"".join(enc(x) for x in items)


def uvarint(v):
    out = bytearray()
    while True:
        b = v & 0x7F
        v >>= 7
        if v:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def varint(v):
    """Zig-zag varint/varlong."""
    return uvarint((v << 1) ^ (v >> 63))


def compact_string(s):
    if s is None:
        return uvarint(0)
    b = s.encode()
    return uvarint(len(b) + 1) + b


def compact_array(items, enc):
    if items is None:
        return uvarint(0)
    return uvarint(len(items) + 1) + b"".join(enc(x) for x in items)


EMPTY_TAGS = uvarint(0)

# ---------------------------------------------------------------------------------------
# Reader.


class Reader:
    def __init__(self, data):
        self.data = data
        self.pos = 0

    def _take(self, n):
        if self.pos + n > len(self.data):
            raise ValueError("short read at %d (+%d of %d)" % (self.pos, n, len(self.data)))
        b = self.data[self.pos:self.pos + n]
        self.pos += n
        return b

    def i8(self):
        return struct.unpack(">b", self._take(1))[0]

    def i16(self):
        return struct.unpack(">h", self._take(2))[0]

    def i32(self):
        return struct.unpack(">i", self._take(4))[0]

    def u32(self):
        return struct.unpack(">I", self._take(4))[0]

    def i64(self):
        return struct.unpack(">q", self._take(8))[0]

    def boolean(self):
        return self._take(1) != b"\x00"

    def string(self):
        n = self.i16()
        return None if n < 0 else self._take(n).decode()

    def bytes_(self):
        n = self.i32()
        return None if n < 0 else self._take(n)

    def array(self, dec):
        n = self.i32()
        if n < 0:
            return None
        return [dec(self) for _ in range(n)]

    def uvarint(self):
        shift = 0
        v = 0
        for _ in range(10):
            b = self._take(1)[0]
            v |= (b & 0x7F) << shift
            if not b & 0x80:
                return v
            shift += 7
        raise ValueError("varint too long")

    def varint(self):
        v = self.uvarint()
        return (v >> 1) ^ -(v & 1)

    def compact_string(self):
        n = self.uvarint()
        return None if n == 0 else self._take(n - 1).decode()

    def compact_array(self, dec):
        n = self.uvarint()
        if n == 0:
            return None
        return [dec(self) for _ in range(n - 1)]

    def tags(self):
        for _ in range(self.uvarint()):
            self.uvarint()
            self._take(self.uvarint())

    def remaining(self):
        return len(self.data) - self.pos


# ---------------------------------------------------------------------------------------
# Request framing.


def request_header(api_key, version, correlation_id, client_id=CLIENT_ID, flexible=False):
    h = i16(api_key) + i16(version) + i32(correlation_id) + string(client_id)
    if flexible:
        h += EMPTY_TAGS
    return h


def frame(payload):
    return i32(len(payload)) + payload


def request(api_key, version, correlation_id, body, flexible=False):
    return frame(request_header(api_key, version, correlation_id, flexible=flexible) + body)


# ---------------------------------------------------------------------------------------
# Groups: the classic group protocol and committed offsets (test_groups, bench/groups).

OFFSET_COMMIT, OFFSET_FETCH, FIND_COORDINATOR = 8, 9, 10
JOIN_GROUP, HEARTBEAT, LEAVE_GROUP, SYNC_GROUP = 11, 12, 13, 14
DESCRIBE_GROUPS, LIST_GROUPS = 15, 16

OFFSET_METADATA_TOO_LARGE = 12
COORDINATOR_LOAD_IN_PROGRESS = 14
COORDINATOR_NOT_AVAILABLE = 15
ILLEGAL_GENERATION = 22
INCONSISTENT_GROUP_PROTOCOL = 23
UNKNOWN_MEMBER_ID = 25
INVALID_SESSION_TIMEOUT = 26
REBALANCE_IN_PROGRESS = 27
MEMBER_ID_REQUIRED = 79


def find_coordinator(cid, group):
    return request(FIND_COORDINATOR, 0, cid, string(group))


def join_group(cid, group, member_id, protocol_type="consumer", session_ms=10000,
               protocols=(("range", b"sub"),)):
    body = (string(group) + i32(session_ms) + i32(30000) + string(member_id) + string(None) +
            string(protocol_type) +
            array(list(protocols), lambda p: string(p[0]) + bytes_(p[1])))
    return request(JOIN_GROUP, 5, cid, body)


def parse_join(body):
    r = Reader(body)
    r.i32()
    out = {"error": r.i16(), "generation": r.i32(), "protocol": r.string(), "leader": r.string(),
           "member_id": r.string()}
    out["members"] = r.array(lambda r: (r.string(), r.string(), r.bytes_()))
    return out


def sync_group(cid, group, generation, member_id, assignments=()):
    body = (string(group) + i32(generation) + string(member_id) + string(None) +
            array(list(assignments), lambda a: string(a[0]) + bytes_(a[1])))
    return request(SYNC_GROUP, 3, cid, body)


def parse_sync(body):
    r = Reader(body)
    r.i32()
    return {"error": r.i16(), "assignment": r.bytes_()}


def heartbeat(cid, group, generation, member_id):
    return request(HEARTBEAT, 3, cid,
                      string(group) + i32(generation) + string(member_id) + string(None))


def parse_error_after_throttle(body):
    r = Reader(body)
    r.i32()
    return r.i16()


def offset_commit(cid, group, generation, member_id, topic, offset, metadata=""):
    partition = i32(0) + i64(offset) + i32(-1) + string(metadata)
    body = (string(group) + i32(generation) + string(member_id) + string(None) +
            array([topic], lambda t: string(t) + array([0], lambda _: partition)))
    return request(OFFSET_COMMIT, 7, cid, body)


def parse_commit(body):
    r = Reader(body)
    r.i32()
    topics = r.array(lambda r: (r.string(), r.array(lambda r: (r.i32(), r.i16()))))
    return topics[0][1][0][1]


def offset_fetch(cid, group, topic):
    return request(OFFSET_FETCH, 5, cid,
                      string(group) + array([topic], lambda t: string(t) + array([0], i32)))


def parse_offset_fetch(body):
    r = Reader(body)
    r.i32()
    topics = r.array(lambda r: (r.string(), r.array(
        lambda r: (r.i32(), r.i64(), r.i32(), r.string(), r.i16()))))
    return {"error": r.i16(), "offset": topics[0][1][0][1] if topics else None}


def leave_group(cid, group, member_id):
    body = string(group) + array([member_id], lambda m: string(m) + string(None))
    return request(LEAVE_GROUP, 3, cid, body)


def parse_leave(body):
    r = Reader(body)
    r.i32()
    error = r.i16()
    return error, r.array(lambda r: (r.string(), r.string(), r.i16()))


def list_groups(cid, states):
    body = compact_array(states, compact_string) + EMPTY_TAGS
    return request(LIST_GROUPS, 4, cid, body, flexible=True)


def parse_list(body):
    r = Reader(body)
    r.i32()
    error = r.i16()

    def group(r):
        g = (r.compact_string(), r.compact_string(), r.compact_string())
        r.tags()
        return g
    return error, r.compact_array(group)


def describe_groups(cid, groups):
    return request(DESCRIBE_GROUPS, 4, cid, array(groups, string) + boolean(False))


def parse_describe(body):
    r = Reader(body)
    r.i32()

    def member(r):
        return {"member_id": r.string(), "instance": r.string(), "client_id": r.string(),
                "client_host": r.string(), "metadata": r.bytes_(), "assignment": r.bytes_()}

    def group(r):
        g = {"error": r.i16(), "group": r.string(), "state": r.string(),
             "protocol_type": r.string(), "protocol": r.string(), "members": r.array(member)}
        r.i32()
        return g
    return r.array(group)


# ---------------------------------------------------------------------------------------
# RecordBatch v2.


def record(offset_delta, timestamp_delta, key, value, headers=()):
    body = i8(0) + varint(timestamp_delta) + varint(offset_delta)
    body += varint(-1) if key is None else varint(len(key)) + key
    body += varint(-1) if value is None else varint(len(value)) + value
    body += varint(len(headers))
    for hk, hv in headers:
        hkb = hk.encode()
        body += varint(len(hkb)) + hkb
        body += varint(-1) if hv is None else varint(len(hv)) + hv
    return varint(len(body)) + body


def record_batch(values, timestamp_ms=None, base_offset=0, corrupt_crc=False, keys=None,
                 producer=(-1, -1, -1), transactional=False):
    """Builds an uncompressed RecordBatch v2 holding one record per value; `producer` is
    (producer id, epoch, base sequence) for an idempotent batch."""
    if timestamp_ms is None:
        timestamp_ms = int(time.time() * 1000)
    recs = b"".join(
        record(i, 0, None if keys is None else keys[i], v) for i, v in enumerate(values))
    after_crc = (i16(0x10 if transactional else 0) + i32(len(values) - 1) + i64(timestamp_ms) + i64(timestamp_ms) +
                 i64(producer[0]) + i16(producer[1]) + i32(producer[2]) + i32(len(values)) +
                 recs)
    crc = crc32c(after_crc)
    if corrupt_crc:
        crc ^= 0xDEADBEEF
    after_length = i32(0) + i8(2) + struct.pack(">I", crc) + after_crc
    return i64(base_offset) + i32(len(after_length)) + after_length


def parse_record_batches(data):
    """Returns [(base_offset, [(offset, key, value)])] for every complete batch in data."""
    out = []
    r = Reader(data or b"")
    while r.remaining() >= 12:
        base_offset = r.i64()
        length = r.i32()
        if r.remaining() < length:
            break  # a partial trailing batch is allowed in Fetch responses
        b = Reader(r._take(length))
        b.i32()  # partition leader epoch
        magic = b.i8()
        if magic != 2:
            raise ValueError("magic %d" % magic)
        crc = b.u32()
        if crc32c(b.data[b.pos:]) != crc:
            raise ValueError("batch CRC mismatch at offset %d" % base_offset)
        attributes = b.i16()
        if attributes & 0x7:
            raise ValueError("compressed batch not expected")
        b.i32()
        b.i64()
        b.i64()
        b.i64()
        b.i16()
        b.i32()
        count = b.i32()
        recs = []
        for _ in range(count):
            b.varint()
            b.i8()
            b.varint()
            delta = b.varint()
            klen = b.varint()
            key = None if klen < 0 else b._take(klen)
            vlen = b.varint()
            value = None if vlen < 0 else b._take(vlen)
            for _ in range(b.varint()):
                b._take(b.varint())
                hl = b.varint()
                if hl > 0:
                    b._take(hl)
            recs.append((base_offset + delta, key, value))
        out.append((base_offset, recs))
    return out


# ---------------------------------------------------------------------------------------
# Request bodies.


def api_versions_body(version):
    if version >= 3:
        return compact_string("fjord-integration") + compact_string("1.0") + EMPTY_TAGS
    return b""


def api_versions_request(correlation_id, version=3):
    return request(API_VERSIONS, version, correlation_id, api_versions_body(version),
                   flexible=version >= 3)


def metadata_request(correlation_id, topics=None):
    return request(METADATA, 1, correlation_id, array(topics, string))


def produce_request(correlation_id, topic, partition, batch, acks=1, timeout_ms=5000,
                    version=7, transactional_id=None):
    body = (string(transactional_id) + i16(acks) + i32(timeout_ms) +
            array([0], lambda _: string(topic) + array([0], lambda _: i32(partition) +
                                                        bytes_(batch))))
    return request(PRODUCE, version, correlation_id, body)


def fetch_request(correlation_id, topic, partition, offset, max_wait_ms=0, min_bytes=0,
                  max_bytes=1 << 20, isolation=0):
    body = (i32(-1) + i32(max_wait_ms) + i32(min_bytes) + i32(max_bytes) + i8(isolation) +
            array([0], lambda _: string(topic) + array([0], lambda _: i32(partition) +
                                                        i64(offset) + i32(max_bytes))))
    return request(FETCH, 4, correlation_id, body)


def fetch_session_request(correlation_id, session_id, epoch, partitions, forgotten=(),
                          max_wait_ms=0, min_bytes=0, max_bytes=1 << 20):
    """Fetch v7 (KIP-227). partitions: [(topic, partition, offset)]; forgotten: [(topic,
    partition)]. Partitions of one topic must be adjacent."""
    def group(items):
        out = []
        for item in items:
            if out and out[-1][0] == item[0]:
                out[-1][1].append(item[1:])
            else:
                out.append((item[0], [item[1:]]))
        return out

    topics = array(group(partitions), lambda t: string(t[0]) + array(
        t[1], lambda p: i32(p[0]) + i64(p[1]) + i64(-1) + i32(max_bytes)))
    forget = array(group(forgotten), lambda t: string(t[0]) + array(
        t[1], lambda p: i32(p[0])))
    body = (i32(-1) + i32(max_wait_ms) + i32(min_bytes) + i32(max_bytes) + i8(0) +
            i32(session_id) + i32(epoch) + topics + forget)
    return request(FETCH, 7, correlation_id, body)


def list_offsets_request(correlation_id, topic, partition, timestamp):
    body = i32(-1) + array([0], lambda _: string(topic) + array(
        [0], lambda _: i32(partition) + i64(timestamp)))
    return request(LIST_OFFSETS, 1, correlation_id, body)


def delete_records_request(correlation_id, topic, partition, offset, timeout_ms=5000):
    body = array([0], lambda _: string(topic) + array(
        [0], lambda _: i32(partition) + i64(offset))) + i32(timeout_ms)
    return request(DELETE_RECORDS, 0, correlation_id, body)


def offset_for_leader_epoch_request(correlation_id, topic, partition, leader_epoch):
    body = i32(-1) + array([0], lambda _: string(topic) + array(
        [0], lambda _: i32(partition) + i32(-1) + i32(leader_epoch)))
    return request(OFFSET_FOR_LEADER_EPOCH, 3, correlation_id, body)


def describe_log_dirs_request(correlation_id):
    return request(DESCRIBE_LOG_DIRS, 1, correlation_id, array(None, string))


def describe_cluster_request(correlation_id):
    return request(DESCRIBE_CLUSTER, 0, correlation_id, boolean(False) + EMPTY_TAGS,
                   flexible=True)


# ---------------------------------------------------------------------------------------
# Response bodies (after the correlation id / header).


def parse_api_versions(body, version):
    r = Reader(body)
    out = {"error": r.i16(), "apis": {}}

    def entry(rr):
        k, lo, hi = rr.i16(), rr.i16(), rr.i16()
        if version >= 3:
            rr.tags()
        return k, lo, hi

    entries = r.compact_array(entry) if version >= 3 else r.array(entry)
    for k, lo, hi in entries or []:
        out["apis"][k] = (lo, hi)
    if version >= 1 and r.remaining() >= 4:
        out["throttle_ms"] = r.i32()
    return out


def parse_metadata_v1(body):
    r = Reader(body)
    brokers = r.array(lambda rr: (rr.i32(), rr.string(), rr.i32(), rr.string()))
    controller = r.i32()

    def partition(rr):
        return {"error": rr.i16(), "partition": rr.i32(), "leader": rr.i32(),
                "replicas": rr.array(Reader.i32), "isr": rr.array(Reader.i32)}

    def topic(rr):
        return {"error": rr.i16(), "name": rr.string(), "internal": rr.boolean(),
                "partitions": rr.array(partition)}

    topics = r.array(topic)
    return {"brokers": brokers, "controller": controller,
            "topics": {t["name"]: t for t in topics}}


def parse_produce(body, version):
    r = Reader(body)
    out = {}

    def partition(rr):
        p = {"partition": rr.i32(), "error": rr.i16(), "base_offset": rr.i64(),
             "log_append_time": rr.i64()}
        if version >= 5:
            p["log_start_offset"] = rr.i64()
        return p

    for name, parts in r.array(lambda rr: (rr.string(), rr.array(partition))):
        for p in parts:
            out[(name, p["partition"])] = p
    return out


def parse_fetch_v4(body):
    r = Reader(body)
    r.i32()  # throttle

    def partition(rr):
        p = {"partition": rr.i32(), "error": rr.i16(), "high_watermark": rr.i64(),
             "last_stable_offset": rr.i64()}
        p["aborted"] = rr.array(lambda x: (x.i64(), x.i64()))
        p["records"] = rr.bytes_()
        return p

    out = {}
    for name, parts in r.array(lambda rr: (rr.string(), rr.array(partition))):
        for p in parts:
            out[(name, p["partition"])] = p
    return out


def parse_fetch_v7(body):
    """{"error", "session_id", "partitions": {(topic, partition): {...}}, "order": [...]}"""
    r = Reader(body)
    r.i32()  # throttle
    out = {"error": r.i16(), "session_id": r.i32(), "partitions": {}, "order": []}

    def partition(rr):
        p = {"partition": rr.i32(), "error": rr.i16(), "high_watermark": rr.i64(),
             "last_stable_offset": rr.i64(), "log_start_offset": rr.i64()}
        rr.array(lambda x: (x.i64(), x.i64()))
        p["records"] = rr.bytes_()
        return p

    for name, parts in r.array(lambda rr: (rr.string(), rr.array(partition))) or []:
        for p in parts:
            out["partitions"][(name, p["partition"])] = p
            out["order"].append((name, p["partition"]))
    return out


def parse_list_offsets_v1(body):
    r = Reader(body)
    out = {}
    for name, parts in r.array(lambda rr: (rr.string(), rr.array(
            lambda x: (x.i32(), x.i16(), x.i64(), x.i64())))):
        for p, err, ts, off in parts:
            out[(name, p)] = {"error": err, "timestamp": ts, "offset": off}
    return out


def parse_delete_records_v0(body):
    r = Reader(body)
    r.i32()
    out = {}
    for name, parts in r.array(lambda rr: (rr.string(), rr.array(
            lambda x: (x.i32(), x.i64(), x.i16())))):
        for p, low, err in parts:
            out[(name, p)] = {"low_watermark": low, "error": err}
    return out


def parse_offset_for_leader_epoch_v3(body):
    r = Reader(body)
    r.i32()
    out = {}
    for name, parts in r.array(lambda rr: (rr.string(), rr.array(
            lambda x: (x.i16(), x.i32(), x.i32(), x.i64())))):
        for err, p, epoch, end in parts:
            out[(name, p)] = {"error": err, "leader_epoch": epoch, "end_offset": end}
    return out


def parse_describe_log_dirs_v1(body):
    r = Reader(body)
    r.i32()

    def partition(x):
        return {"partition": x.i32(), "size": x.i64(), "offset_lag": x.i64(),
                "is_future": x.boolean()}

    def result(x):
        return {"error": x.i16(), "log_dir": x.string(),
                "topics": {n: ps for n, ps in x.array(
                    lambda y: (y.string(), y.array(partition)))}}

    return r.array(result)


def parse_describe_cluster_v0(body):
    r = Reader(body)
    out = {"throttle_ms": r.i32(), "error": r.i16(), "error_message": r.compact_string(),
           "cluster_id": r.compact_string(), "controller_id": r.i32()}

    def broker(x):
        b = (x.i32(), x.compact_string(), x.i32(), x.compact_string())
        x.tags()
        return b

    out["brokers"] = r.compact_array(broker)
    out["authorized_operations"] = r.i32()
    r.tags()
    return out


# ---------------------------------------------------------------------------------------
# A blocking client connection with bounded waits.


class ConnectionClosed(Exception):
    pass


class Client:
    """One TCP connection to the broker. Every read is bounded by `timeout` seconds."""

    def __init__(self, port, host="127.0.0.1", timeout=10.0):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.timeout = timeout
        self.next_id = 1

    def local_port(self):
        return self.sock.getsockname()[1]

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def correlation_id(self):
        cid = self.next_id
        self.next_id += 1
        return cid

    def send_raw(self, data):
        self.sock.sendall(data)

    def _recv_exact(self, n, deadline):
        buf = bytearray()
        while len(buf) < n:
            left = deadline - time.monotonic()
            if left <= 0:
                raise socket.timeout("timed out reading %d bytes" % n)
            self.sock.settimeout(left)
            chunk = self.sock.recv(min(n - len(buf), 1 << 20))
            if not chunk:
                raise ConnectionClosed("connection closed by the broker")
            buf += chunk
        return bytes(buf)

    def recv_frame(self, timeout=None):
        """Returns (correlation_id, rest of the response) of the next response."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        (size,) = struct.unpack(">i", self._recv_exact(4, deadline))
        if size < 4 or size > 256 << 20:
            raise ValueError("implausible response size %d" % size)
        payload = self._recv_exact(size, deadline)
        return struct.unpack(">i", payload[:4])[0], payload[4:]

    def wait_closed(self, timeout=10.0):
        """True if the broker closes the connection (EOF or reset) within timeout seconds.

        Any response bytes that arrive first are read and discarded.
        """
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            self.sock.settimeout(left)
            try:
                chunk = self.sock.recv(65536)
            except socket.timeout:
                return False
            except (ConnectionResetError, BrokenPipeError):
                return True
            if not chunk:
                return True

    def call(self, build, *args, flexible_response_header=False, **kwargs):
        """Sends build(correlation_id, *args) and returns the response body."""
        cid = self.correlation_id()
        self.send_raw(build(cid, *args, **kwargs))
        got, body = self.recv_frame()
        if got != cid:
            raise AssertionError("correlation id %d, expected %d" % (got, cid))
        if flexible_response_header:
            r = Reader(body)
            r.tags()
            body = body[r.pos:]
        return body

    # Convenience wrappers.
    def api_versions(self, version=3):
        return parse_api_versions(self.call(api_versions_request, version=version), version)

    def metadata(self, topics=None):
        return parse_metadata_v1(self.call(metadata_request, topics))

    def produce(self, topic, partition, batch, acks=1, version=7, timeout_ms=5000,
                transactional_id=None):
        body = self.call(produce_request, topic, partition, batch, acks=acks,
                         version=version, timeout_ms=timeout_ms,
                         transactional_id=transactional_id)
        return parse_produce(body, version)[(topic, partition)]

    def fetch(self, topic, partition, offset, max_wait_ms=0, min_bytes=0, timeout=None):
        cid = self.correlation_id()
        self.send_raw(fetch_request(cid, topic, partition, offset, max_wait_ms=max_wait_ms,
                                    min_bytes=min_bytes))
        got, body = self.recv_frame(timeout=timeout)
        if got != cid:
            raise AssertionError("correlation id %d, expected %d" % (got, cid))
        return parse_fetch_v4(body)[(topic, partition)]

    def list_offsets(self, topic, partition, timestamp):
        body = self.call(list_offsets_request, topic, partition, timestamp)
        return parse_list_offsets_v1(body)[(topic, partition)]
