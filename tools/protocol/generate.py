#!/usr/bin/env python3
"""Generates Fjord's C++ protocol types from the project's schema (protocol/schema/).

Usage:
  generate.py SCHEMA_DIR OUT_DIR          write headers, sources and generated tests
  generate.py SCHEMA_DIR OUT_DIR --list   print the files it would write, one a line

For every message (request, response, header, record) it writes a plain struct with
defaulted members, nested structs for its inline and common structs, and
Encode / Decode / EncodedSize / MinEncodedSize for every valid version, flexible
versions (compact lengths, tagged fields, unknown tags kept) included. Strong types
(Offset, LeaderEpoch, ProducerId, ...) are applied through OVERRIDES below.
"""
import json
import os
import re
import sys

OPEN = 32767

# Namespace and include folder of each schema set.
SET_NAMESPACE = {
    "messages": "fjord::protocol",
    "metadata": "fjord::protocol::metadata",
    "group": "fjord::protocol::group",
    "txn": "fjord::protocol::txn",
    "share": "fjord::protocol::share",
    "raft": "fjord::protocol::raft",
    "storage": "fjord::protocol::storage",
}

# Strong types: (field name, wire type) -> C++ type. Arrays of a listed element type use
# the strong type for their elements. Fields tagged entityType brokerId are node ids.
OVERRIDES = {}
for _n in ["BaseOffset", "CommittedOffset", "FetchOffset", "EndOffset", "FirstOffset",
           "LastOffset", "HighWatermark", "LastStableOffset", "LogStartOffset",
           "LogEndOffset", "Offset", "StartOffset", "LowWatermark", "CurrentTxnFirstOffset"]:
    OVERRIDES[(_n, "int64")] = "::fjord::Offset"
for _n in ["LeaderEpoch", "leaderEpoch", "CurrentLeaderEpoch", "CommittedLeaderEpoch",
           "LastFetchedEpoch", "PartitionLeaderEpoch"]:
    OVERRIDES[(_n, "int32")] = "::fjord::LeaderEpoch"
for _n in ["ProducerId", "PreviousProducerId", "NextProducerId", "ProducerIdStart",
           "V3AndBelowProducerId"]:
    OVERRIDES[(_n, "int64")] = "::fjord::ProducerId"
for _n in ["ProducerEpoch", "V3AndBelowProducerEpoch"]:
    OVERRIDES[(_n, "int16")] = "::fjord::ProducerEpoch"
for _n in ["PartitionIndex", "Partition", "PartitionId", "partition", "Index"]:
    OVERRIDES[(_n, "int32")] = "::fjord::PartitionId"
for _n in ["Partitions", "PartitionIndexes", "PartitionIds"]:
    OVERRIDES[(_n, "[]int32")] = "::fjord::PartitionId"
for _n in ["LeaderId", "BrokerId", "NodeId", "ReplicaId", "ControllerId", "VoterId",
           "VotedId", "CandidateId"]:
    OVERRIDES[(_n, "int32")] = "::fjord::NodeId"
OVERRIDES[("Isr", "[]int32")] = "::fjord::NodeId"

PRIMS = {
    # wire type: (C++ type, size, Reader method, Writer method)
    "bool": ("bool", 1, "ReadBool", "WriteBool"),
    "int8": ("int8_t", 1, "ReadInt8", "WriteInt8"),
    "int16": ("int16_t", 2, "ReadInt16", "WriteInt16"),
    "int32": ("int32_t", 4, "ReadInt32", "WriteInt32"),
    "int64": ("int64_t", 8, "ReadInt64", "WriteInt64"),
    "uint16": ("uint16_t", 2, "ReadUint16", "WriteUint16"),
    "uint32": ("uint32_t", 4, "ReadUint32", "WriteUint32"),
    "float64": ("double", 8, "ReadFloat64", "WriteFloat64"),
    "uuid": ("::fjord::protocol::Uuid", 16, "ReadUuid", "WriteUuid"),
}


def snake(name):
    s = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name)
    s = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", s)
    return s.lower()


def const_name(name):
    return "k" + name[0].upper() + name[1:]


# --- version conditions -------------------------------------------------------------------

def in_range(rng, v):
    return rng is not None and rng[0] <= v <= rng[1]


def cond(rng, valid):
    """A C++ condition on `version` for rng, simplified against the message's valid range."""
    if rng is None:
        return "false"
    lo, hi = rng
    vlo, vhi = valid
    parts = []
    if lo > vlo:
        parts.append(f"version >= {lo}")
    if hi < vhi:
        parts.append(f"version <= {hi}")
    if lo > vhi or hi < vlo:
        return "false"
    return " && ".join(parts) if parts else "true"


# --- the type model -------------------------------------------------------------------------

class Type:
    """kind: prim | string | bytes | records | array | struct."""

    def __init__(self, kind, wire=None, elem=None, struct=None, cpp=None):
        self.kind, self.wire, self.elem, self.struct, self.cpp = kind, wire, elem, struct, cpp


class Field:
    def __init__(self, spec, type_, valid):
        self.spec = spec
        self.name = spec["name"]
        self.member = snake(self.name) + "_" if snake(self.name) in ("new", "default") else snake(self.name)
        self.type = type_
        self.versions = spec["versions"]
        self.nullable = spec.get("nullable")
        self.tagged = spec.get("tagged")
        self.tag = spec.get("tag")
        self.default = spec.get("default")
        self.flex_override = "flexible" in spec
        self.flex_range = spec.get("flexible")
        self.valid = valid

    @property
    def optional(self):
        return self.nullable is not None and self.type.kind in ("string", "bytes", "array", "struct")

    def present(self):
        return cond(self.versions, self.valid)

    def nullable_now(self):
        return cond(self.nullable, self.valid)

    def flex_expr(self):
        if self.flex_override:
            c = cond(self.flex_range, self.valid)
            return "false" if c == "false" else f"(flexible && {c})"
        return "flexible"


class Struct:
    def __init__(self, name, fields):
        self.name, self.fields = name, fields


class Message:
    def __init__(self, schema):
        self.schema = schema
        self.name = schema["name"]
        self.kind = schema["kind"]
        self.set = schema["set"]
        self.valid = schema["valid"]
        self.flexible = schema["flexible"]
        self.structs = {}  # name -> Struct, filled in definition order (children first)
        self.order = []
        common = {c["name"]: c for c in schema["common_structs"]}
        self._common_specs = common
        self._building = set()
        for c in schema["common_structs"]:
            self._define(c["name"], c["fields"])
        self.top = Struct(self.name, [self._field(f) for f in schema["fields"]])

    def _define(self, name, field_specs):
        if name in self.structs or name in self._building:
            return
        self._building.add(name)
        fields = [self._field(f) for f in field_specs]
        st = Struct(name, fields)
        self.structs[name] = st
        self.order.append(st)

    def _field(self, spec):
        return Field(spec, self._type(spec, spec["type"]), self.valid)

    def _type(self, spec, wire):
        if wire.startswith("[]"):
            return Type("array", elem=self._type(spec, wire[2:]))
        if wire in PRIMS:
            return Type("prim", wire=wire)
        if wire in ("string", "bytes", "records"):
            return Type(wire, wire=wire)
        # A struct: inline fields define it, otherwise it names a common struct.
        if "fields" in spec:
            self._define(wire, spec["fields"])
        elif wire in self._common_specs:
            self._define(wire, self._common_specs[wire]["fields"])
        else:
            raise ValueError(f"{self.name}: unknown type {wire}")
        return Type("struct", struct=wire)


def cpp_scalar(field, t):
    """C++ type of a primitive (with strong-type overrides)."""
    wire = t.wire
    name = field.name
    arr = field.type.kind == "array"
    key = (name, "[]" + wire if arr else wire)
    if key in OVERRIDES:
        return OVERRIDES[key]
    if field.spec.get("entity") == "brokerId" and wire == "int32":
        return "::fjord::NodeId"
    if field.spec.get("entity") == "producerId" and wire == "int64":
        return "::fjord::ProducerId"
    return PRIMS[wire][0]


def is_strong(cpp):
    return cpp.startswith("::fjord::") and not cpp.startswith("::fjord::protocol")


def cpp_type(field, t=None, top=True):
    t = t or field.type
    if t.kind == "prim":
        base = cpp_scalar(field, t)
    elif t.kind == "string":
        base = "std::string"
    elif t.kind == "bytes":
        base = "std::vector<uint8_t>"
    elif t.kind == "records":
        return "::fjord::protocol::RecordsView"
    elif t.kind == "array":
        base = f"std::vector<{cpp_type(field, t.elem, top=False)}>"
    else:
        base = t.struct
    if top and field.optional:
        return f"std::optional<{base}>"
    return base


def int_literal(cpp, text):
    text = text.strip()
    v = int(text, 16) if text.lower().startswith(("0x", "-0x")) else int(text)
    if cpp in ("int64_t", "::fjord::Offset", "::fjord::ProducerId") and v == -(2 ** 63):
        lit = "INT64_MIN"
    elif v == -(2 ** 31):
        lit = "INT32_MIN"
    else:
        lit = str(v)
    return lit


def default_expr(field):
    """C++ expression of the field's default value (its type's own default if empty)."""
    t = field.type
    d = field.default
    if d == "null":
        if t.kind == "records":
            return "::fjord::protocol::RecordsView{}"
        return "std::nullopt"
    if t.kind == "prim":
        cpp = cpp_scalar(field, t)
        if d is None:
            return f"{cpp}{{}}"
        if t.wire == "bool":
            return "true" if d == "true" else "false"
        if t.wire == "float64":
            return f"{float(d)!r}"
        if t.wire == "uuid":
            return "::fjord::protocol::Uuid{}"
        lit = int_literal(cpp, d)
        return f"{cpp}({lit})" if is_strong(cpp) else f"static_cast<{cpp}>({lit})"
    if t.kind == "string" and d not in (None, ""):
        return json.dumps(d)
    if t.kind == "records":
        return "::fjord::protocol::RecordsView{}"
    if field.optional:
        inner = cpp_type(field)[len("std::optional<"):-1]
        return f"{inner}{{}}"
    return f"{cpp_type(field)}{{}}"


def member_init(field):
    t = field.type
    d = field.default
    if d is None:
        if t.kind in ("string", "bytes", "array", "struct") and field.optional:
            return "{std::in_place}"
        return "{}"
    return "{" + default_expr(field) + "}"


# --- code emission --------------------------------------------------------------------------

class Out:
    def __init__(self):
        self.lines = []
        self.ind = 0

    def __call__(self, line=""):
        self.lines.append(("  " * self.ind + line) if line else "")

    def indent(self):
        self.ind += 1

    def dedent(self):
        self.ind -= 1

    def text(self):
        return "\n".join(self.lines) + "\n"


def encode_value(o, field, t, expr, fx, depth=0):
    if t.kind == "prim":
        _, _, _, wfn = PRIMS[t.wire]
        cpp = cpp_scalar(field, t)
        o(f"w.{wfn}({expr}.value);" if is_strong(cpp) else f"w.{wfn}({expr});")
    elif t.kind == "string":
        fn = "WriteNullableString" if (field.optional and depth == 0) else "WriteString"
        o(f"w.{fn}({expr}, {fx});")
    elif t.kind == "bytes":
        fn = "WriteNullableBytes" if (field.optional and depth == 0) else "WriteBytes"
        o(f"w.{fn}({expr}, {fx});")
    elif t.kind == "records":
        o(f"w.WriteRecords({expr}, {fx});")
    elif t.kind == "array":
        arr = expr
        if field.optional and depth == 0:
            o(f"if (!{expr}) {{")
            o(f"  w.WriteArrayLength(-1, {fx});")
            o("} else {")
            o.indent()
            arr = f"(*{expr})"
        o(f"w.WriteArrayLength(static_cast<int32_t>({arr}.size()), {fx});")
        e = f"e{depth}"
        o(f"for (const auto& {e} : {arr}) {{")
        o.indent()
        encode_value(o, field, t.elem, e, fx, depth + 1)
        o.dedent()
        o("}")
        if field.optional and depth == 0:
            o.dedent()
            o("}")
    else:
        if field.optional and depth == 0:
            o(f"if ({expr}) {{")
            o(f"  w.WriteInt8(1);")
            o(f"  {expr}->Encode(w, version);")
            o("} else {")
            o("  w.WriteInt8(-1);")
            o("}")
        else:
            o(f"{expr}.Encode(w, version);")


def emit_size(o, field, t, expr, fx, acc, depth=0):
    """Statements that add the encoded size of expr to the size_t variable `acc`."""
    if t.kind == "prim":
        o(f"{acc} += {PRIMS[t.wire][1]};")
    elif t.kind == "string":
        fn = "NullableStringSize" if (field.optional and depth == 0) else "StringSize"
        o(f"{acc} += ::fjord::protocol::{fn}({expr}, {fx});")
    elif t.kind == "bytes":
        fn = "NullableBytesSize" if (field.optional and depth == 0) else "BytesSize"
        o(f"{acc} += ::fjord::protocol::{fn}({expr}, {fx});")
    elif t.kind == "records":
        o(f"{acc} += ::fjord::protocol::RecordsSize({expr}, {fx});")
    elif t.kind == "array":
        arr = expr
        if field.optional and depth == 0:
            o(f"if (!{expr}) {{")
            o(f"  {acc} += ({fx}) ? 1 : 4;")
            o("} else {")
            o.indent()
            arr = f"(*{expr})"
        o(f"{acc} += ::fjord::protocol::ArrayLengthSize({arr}.size(), {fx});")
        if t.elem.kind == "prim":
            o(f"{acc} += {arr}.size() * {PRIMS[t.elem.wire][1]};")
        else:
            e = f"e{depth}"
            o(f"for (const auto& {e} : {arr}) {{")
            o.indent()
            emit_size(o, field, t.elem, e, fx, acc, depth + 1)
            o.dedent()
            o("}")
        if field.optional and depth == 0:
            o.dedent()
            o("}")
    elif field.optional and depth == 0:
        o(f"{acc} += {expr} ? 1 + {expr}->EncodedSize(version) : 1;")
    else:
        o(f"{acc} += {expr}.EncodedSize(version);")


def decode_value(o, field, t, expr, fx, depth=0):
    nullable_now = field.nullable_now()
    if t.kind == "prim":
        _, _, rfn, _ = PRIMS[t.wire]
        cpp = cpp_scalar(field, t)
        o(f"{expr} = {cpp}(r.{rfn}());" if is_strong(cpp) else f"{expr} = r.{rfn}();")
    elif t.kind == "string":
        if field.optional and depth == 0:
            o(f"r.ReadNullableString(&{expr}, {fx}, {nullable_now});")
        else:
            o(f"r.ReadString(&{expr}, {fx});")
    elif t.kind == "bytes":
        if field.optional and depth == 0:
            o(f"r.ReadNullableBytes(&{expr}, {fx}, {nullable_now});")
        else:
            o(f"r.ReadBytes(&{expr}, {fx});")
    elif t.kind == "records":
        o(f"r.ReadRecords(&{expr}, {fx}, {nullable_now});")
    elif t.kind == "array":
        n = f"n{depth}"
        if t.elem.kind == "prim":
            mins = str(PRIMS[t.elem.wire][1])
        elif t.elem.kind == "struct":
            mins = f"{t.elem.struct}::MinEncodedSize(version)"
        else:
            mins = "1"
        o("{")
        o.indent()
        o(f"int32_t {n} = r.ReadArrayLength({fx}, {mins});")
        o(f"if (!r.ok()) return;")
        arr = expr
        if field.optional and depth == 0:
            o(f"if ({n} < 0) {{")
            if nullable_now != "true":
                o(f"  if (!({nullable_now})) {{ r.Fail(\"null in a non-nullable array\"); return; }}")
            o(f"  {expr}.reset();")
            o("} else {")
            o.indent()
            o(f"{expr}.emplace();")
            arr = f"(*{expr})"
        else:
            o(f"if ({n} < 0) {{ r.Fail(\"null in a non-nullable array\"); return; }}")
        o(f"{arr}.resize(static_cast<size_t>({n}));")
        e = f"e{depth}"
        o(f"for (auto& {e} : {arr}) {{")
        o.indent()
        decode_value(o, field, t.elem, e, fx, depth + 1)
        o("if (!r.ok()) return;")
        o.dedent()
        o("}")
        if field.optional and depth == 0:
            o.dedent()
            o("}")
        o.dedent()
        o("}")
    else:
        if field.optional and depth == 0:
            o("{")
            o.indent()
            o("int8_t present = r.ReadInt8();")
            o("if (present < 0) {")
            if nullable_now != "true":
                o(f"  if (!({nullable_now})) {{ r.Fail(\"null in a non-nullable struct\"); return; }}")
            o(f"  {expr}.reset();")
            o("} else {")
            o(f"  {expr}.emplace();")
            o(f"  {expr}->Decode(r, version);")
            o("}")
            o.dedent()
            o("}")
        else:
            o(f"{expr}.Decode(r, version);")


def min_size_term(field):
    t = field.type
    if t.kind == "prim":
        return str(PRIMS[t.wire][1])
    fx = field.flex_expr()
    if t.kind == "string":
        return f"({fx} ? 1u : 2u)"
    if t.kind in ("bytes", "records", "array"):
        return f"({fx} ? 1u : 4u)"
    if field.optional:
        return "1u"
    return f"{t.struct}::MinEncodedSize(version)"


def emit_unknown_filter(o, tagged):
    """Binds `unknown` to the unknown tagged fields to write: without those numbered like a
    field this version knows (kept from a decode at an older version), which would clash.
    Messages without unknown tags (nearly all) skip the check."""
    if not tagged:
        o("const ::fjord::protocol::UnknownTaggedFields& unknown = unknown_tagged_fields;")
        return
    o("::fjord::protocol::UnknownTaggedFields unknown_scratch;")
    o("const ::fjord::protocol::UnknownTaggedFields& unknown = unknown_tagged_fields.empty()")
    o("    ? unknown_tagged_fields")
    o("    : [&]() -> const ::fjord::protocol::UnknownTaggedFields& {")
    o.indent()
    o.indent()
    o(f"uint32_t known_tags[{len(tagged)}];")
    o("size_t known_count = 0;")
    for f in tagged:
        o(f"if ({f.present()}) known_tags[known_count++] = {f.tag};")
    o("return ::fjord::protocol::WithoutTags(unknown_tagged_fields, known_tags, known_count, "
      "&unknown_scratch);")
    o.dedent()
    o.dedent()
    o("    }();")


def is_default_expr(field):
    t = field.type
    m = "this->" + field.member
    if t.kind == "records":
        return f"{m}.is_null"  # records default to null
    if t.kind == "array" and not field.optional:
        return f"{m}.empty()"
    if t.kind == "array" and field.default == "null":
        return f"!{m}.has_value()"
    if t.kind == "array":
        return f"({m}.has_value() && {m}->empty())"
    return f"({m} == {default_expr(field)})"


def emit_struct_decl(o, st, msg, is_top):
    if not is_top:
        o(f"struct {st.name} {{")
        o.indent()
    for f in st.fields:
        o(f"{cpp_type(f)} {f.member}{member_init(f)};")
    o("::fjord::protocol::UnknownTaggedFields unknown_tagged_fields;")
    o()
    o("void Encode(::fjord::protocol::Writer& w, int16_t version) const;")
    o("void Decode(::fjord::protocol::Reader& r, int16_t version);")
    o("size_t EncodedSize(int16_t version) const;")
    o("// The fewest bytes an encoding at `version` can take (bounds array counts on decode).")
    o("static size_t MinEncodedSize(int16_t version);")
    o(f"bool operator==(const {st.name}&) const = default;")
    if not is_top:
        o.dedent()
        o("};")
        o()


def tagged_fields(st):
    return sorted([f for f in st.fields if f.tagged is not None], key=lambda f: f.tag)


def flex_cond(msg):
    if msg.flexible is None:
        return "false"
    return cond([msg.flexible, OPEN], msg.valid)


def emit_struct_impl(o, st, msg, qual):
    flex = flex_cond(msg)
    positional = [f for f in st.fields if f.tagged is None]
    tagged = tagged_fields(st)

    # Encode
    o(f"void {qual}::Encode(::fjord::protocol::Writer& w, int16_t version) const {{")
    o.indent()
    o(f"[[maybe_unused]] const bool flexible = {flex};")
    o("(void)version;")
    for f in positional:
        c = f.present()
        if c == "false":
            continue
        if c != "true":
            o(f"if ({c}) {{")
            o.indent()
        encode_value(o, f, f.type, "this->" + f.member, f.flex_expr())
        if c != "true":
            o.dedent()
            o("}")
    if flex != "false":
        o("if (flexible) {")
        o.indent()
        emit_unknown_filter(o, tagged)
        o("uint32_t num_tagged = static_cast<uint32_t>(unknown.size());")
        for f in tagged:
            o(f"if (({f.present()}) && !{is_default_expr(f)}) ++num_tagged;")
        o("w.WriteUnsignedVarint(num_tagged);")
        o("size_t next_unknown = 0;")
        for f in tagged:
            o(f"next_unknown = w.WriteUnknownTagsBelow(unknown, next_unknown, {f.tag});")
            o(f"if (({f.present()}) && !{is_default_expr(f)}) {{")
            o.indent()
            o(f"w.WriteUnsignedVarint({f.tag});")
            o("size_t s = 0;")
            emit_size(o, f, f.type, "this->" + f.member, "true", "s")
            o("w.WriteUnsignedVarint(static_cast<uint32_t>(s));")
            encode_value(o, f, f.type, "this->" + f.member, "true")
            o.dedent()
            o("}")
        o("w.WriteUnknownTagsFrom(unknown, next_unknown);")
        o.dedent()
        o("}")
    o.dedent()
    o("}")
    o()

    # EncodedSize
    o(f"size_t {qual}::EncodedSize(int16_t version) const {{")
    o.indent()
    o(f"[[maybe_unused]] const bool flexible = {flex};")
    o("(void)version;")
    o("size_t n = 0;")
    for f in positional:
        c = f.present()
        if c == "false":
            continue
        if c != "true":
            o(f"if ({c}) {{")
            o.indent()
        emit_size(o, f, f.type, "this->" + f.member, f.flex_expr(), "n")
        if c != "true":
            o.dedent()
            o("}")
    if flex != "false":
        o("if (flexible) {")
        o.indent()
        emit_unknown_filter(o, tagged)
        o("uint32_t num_tagged = static_cast<uint32_t>(unknown.size());")
        o("n += ::fjord::protocol::UnknownTagsSize(unknown);")
        for f in tagged:
            o(f"if (({f.present()}) && !{is_default_expr(f)}) {{")
            o.indent()
            o("++num_tagged;")
            o("size_t s = 0;")
            emit_size(o, f, f.type, "this->" + f.member, "true", "s")
            o(f"n += ::fjord::protocol::VarintSize({f.tag}) + ::fjord::protocol::VarintSize(static_cast<uint32_t>(s)) + s;")
            o.dedent()
            o("}")
        o("n += ::fjord::protocol::VarintSize(num_tagged);")
        o.dedent()
        o("}")
    o("return n;")
    o.dedent()
    o("}")
    o()

    # MinEncodedSize
    o(f"size_t {qual}::MinEncodedSize(int16_t version) {{")
    o.indent()
    o(f"[[maybe_unused]] const bool flexible = {flex};")
    o("(void)version;")
    o("size_t n = flexible ? 1 : 0;")
    for f in positional:
        c = f.present()
        if c == "false":
            continue
        o(f"n += {min_size_term(f)};" if c == "true" else f"if ({c}) n += {min_size_term(f)};")
    o("return n;")
    o.dedent()
    o("}")
    o()

    # Decode
    o(f"void {qual}::Decode(::fjord::protocol::Reader& r, int16_t version) {{")
    o.indent()
    o(f"[[maybe_unused]] const bool flexible = {flex};")
    o("(void)version;")
    for f in positional:
        c = f.present()
        if c == "false":
            continue
        if c != "true":
            o(f"if ({c}) {{")
            o.indent()
        decode_value(o, f, f.type, "this->" + f.member, f.flex_expr())
        if c != "true":
            o.dedent()
            o("}")
    o("if (!r.ok()) return;")
    if flex != "false":
        o("if (flexible) {")
        o.indent()
        o("uint32_t num_tagged = r.ReadUnsignedVarint();")
        o("for (uint32_t i = 0; i < num_tagged && r.ok(); ++i) {")
        o.indent()
        o("uint32_t tag = r.ReadUnsignedVarint();")
        o("uint32_t size = r.ReadUnsignedVarint();")
        o("if (!r.ok()) return;")
        if tagged:
            o("switch (tag) {")
            for f in tagged:
                o(f"  case {f.tag}:")
                o(f"    if ({f.present()}) {{")
                o.indent()
                o.indent()
                o.indent()
                o("::fjord::protocol::Reader sub = r.Split(size);")
                # A lambda, so that a failure's `return` leaves only the tagged value.
                o("[&](::fjord::protocol::Reader& r) {")
                o.indent()
                decode_value(o, f, f.type, "this->" + f.member, "true")
                o.dedent()
                o("}(sub);")
                o(f"r.Join(sub, \"tagged field {f.name} has the wrong size\");")
                o("continue;")
                o.dedent()
                o.dedent()
                o.dedent()
                o("    }")
                o("    break;")
            o("  default:")
            o("    break;")
            o("}")
        o("r.ReadUnknownTag(tag, size, &unknown_tagged_fields);")
        o.dedent()
        o("}")
        o.dedent()
        o("}")
    o.dedent()
    o("}")
    o()


def structs_ns(msg):
    return snake(msg.name) + "_structs"


def api_const(name):
    return "k" + name


def header_text(msg, api_keys_needed):
    ns = SET_NAMESPACE[msg.set]
    o = Out()
    o("#pragma once")
    o(f"// Generated by tools/protocol/generate.py from protocol/schema/{msg.set}/{msg.name}.json.")
    o("// Do not edit.")
    o()
    o("#include <cstdint>")
    o("#include <optional>")
    o("#include <string>")
    o("#include <vector>")
    o()
    o('#include "fjord/base/types.h"')
    o('#include "fjord/protocol/wire.h"')
    if api_keys_needed:
        o('#include "fjord/protocol/api_keys.h"')
    o()
    o(f"namespace {ns} {{")
    o()
    # The nested structs live in a namespace of their own and are aliased into the message:
    # a struct nested in the class could not be used in std::optional members before the
    # class is complete (CWG 1397).
    if msg.order:
        o(f"namespace {structs_ns(msg)} {{")
        o()
        for st in msg.order:
            emit_struct_decl(o, st, msg, False)
        o(f"}}  // namespace {structs_ns(msg)}")
        o()
    o(f"struct {msg.name} {{")
    o.indent()
    for st in msg.order:
        o(f"using {st.name} = {structs_ns(msg)}::{st.name};")
    if msg.order:
        o()
    o(f'static constexpr const char* kName = "{msg.name}";')
    o(f"static constexpr int16_t kMinVersion = {msg.valid[0]};")
    o(f"static constexpr int16_t kMaxVersion = {msg.valid[1]};")
    o(f"static constexpr int16_t kFirstFlexibleVersion = {msg.flexible if msg.flexible is not None else -1};")
    if msg.kind in ("request", "response"):
        o(f"static constexpr ::fjord::protocol::ApiKey kApiKey = ::fjord::protocol::ApiKey::{api_const(msg.name[:-len(msg.kind)])};")
    elif msg.schema["api_key"] is not None:
        o(f"static constexpr int16_t kRecordType = {msg.schema['api_key']};")
    o()
    emit_struct_decl(o, msg.top, msg, True)
    o.dedent()
    o("};")
    o()
    o(f"}}  // namespace {ns}")
    return o.text()


def source_text(msg, include):
    ns = SET_NAMESPACE[msg.set]
    o = Out()
    o(f"// Generated by tools/protocol/generate.py from protocol/schema/{msg.set}/{msg.name}.json.")
    o("// Do not edit.")
    o(f'#include "{include}"')
    o()
    o(f"namespace {ns} {{")
    o()
    for st in msg.order:
        emit_struct_impl(o, st, msg, f"{structs_ns(msg)}::{st.name}")
    emit_struct_impl(o, msg.top, msg, msg.name)
    o(f"}}  // namespace {ns}")
    return o.text()


# --- random fill for the generated round-trip tests -------------------------------------------

def fill_value(o, field, t, expr, depth=0):
    nullable_now = field.nullable_now()
    if t.kind == "prim":
        cpp = cpp_scalar(field, t)
        if t.wire == "bool":
            o(f"{expr} = rng.Bool();")
        elif t.wire == "float64":
            o(f"{expr} = rng.Double();")
        elif t.wire == "uuid":
            o(f"{expr} = rng.RandomUuid();")
        elif is_strong(cpp):
            o(f"{expr} = {cpp}(rng.Int<{cpp}::ValueType>());")
        else:
            o(f"{expr} = rng.Int<{cpp}>();")
    elif t.kind in ("string", "bytes"):
        gen = "rng.String()" if t.kind == "string" else "rng.Bytes()"
        if field.optional and depth == 0 and nullable_now != "false":
            o(f"if (({nullable_now}) && rng.OneIn(4)) {expr}.reset(); else {expr} = {gen};")
        else:
            o(f"{expr} = {gen};")
    elif t.kind == "records":
        if nullable_now != "false":
            o(f"if (({nullable_now}) && rng.OneIn(4)) {expr} = {{}}; else {expr} = rng.Records();")
        else:
            o(f"{expr} = rng.Records();")
    elif t.kind == "array":
        o("{")
        o.indent()
        target = expr
        if field.optional and depth == 0:
            if nullable_now != "false":
                o(f"if (({nullable_now}) && rng.OneIn(4)) {{ {expr}.reset(); }} else {{")
            else:
                o("{")
            o.indent()
            o(f"{expr}.emplace();")
            target = f"(*{expr})"
        o(f"{target}.resize(rng.Count(depth));")
        e = f"e{depth}"
        o(f"for (auto& {e} : {target}) {{")
        o.indent()
        fill_value(o, field, t.elem, e, depth + 1)
        o.dedent()
        o("}")
        if field.optional and depth == 0:
            o.dedent()
            o("}")
        o.dedent()
        o("}")
    else:
        if field.optional and depth == 0:
            if nullable_now != "false":
                o(f"if (({nullable_now}) && rng.OneIn(3)) {{ {expr}.reset(); }} else {{")
            else:
                o("{")
            o(f"  {expr}.emplace(); FillRandom(*{expr}, version, rng, depth + 1);")
            o("}")
        else:
            o(f"FillRandom({expr}, version, rng, depth + 1);")


def fill_text(msg, qual, st, decl_only=False):
    o = Out()
    sig = f"void FillRandom({qual}& x, int16_t version, Rng& rng, int depth)"
    if decl_only:
        return sig + ";\n"
    o(sig + " {")
    o.indent()
    o("(void)x; (void)version; (void)rng; (void)depth;")
    for f in st.fields:
        c = f.present()
        if c == "false":
            continue
        o(f"if ({c}) {{")
        o.indent()
        fill_value(o, f, f.type, f"x.{f.member}")
        o.dedent()
        o("}")
    flex = flex_cond(msg)
    if flex != "false":
        o(f"if (({flex}) && rng.OneIn(3)) x.unknown_tagged_fields = rng.UnknownTags();")
    o.dedent()
    o("}")
    return o.text()


def test_text(msgs):
    o = Out()
    o("// Generated by tools/protocol/generate.py: round trip of every message at every version")
    o("// with random field values. Do not edit.")
    o('#include "roundtrip_support.h"')
    for m in msgs:
        o(f'#include "{m.include}"')
    o()
    o("namespace fjord::protocol::testing {")
    o()
    # Declarations first: structs may refer to each other in any order.
    for m in msgs:
        ns = SET_NAMESPACE[m.set]
        for st in m.order:
            o(fill_text(m, f"::{ns}::{m.name}::{st.name}", st, decl_only=True).rstrip())
        o(fill_text(m, f"::{ns}::{m.name}", m.top, decl_only=True).rstrip())
    o()
    for m in msgs:
        ns = SET_NAMESPACE[m.set]
        for st in m.order:
            o(fill_text(m, f"::{ns}::{m.name}::{st.name}", st))
        o(fill_text(m, f"::{ns}::{m.name}", m.top))
    for m in msgs:
        ns = SET_NAMESPACE[m.set]
        tname = f"{m.set.capitalize()}{m.name}"
        o(f"TEST(GeneratedRoundTrip, {tname}) {{ RoundTripAllVersions<::{ns}::{m.name}>(); }}")
    o()
    o("}  // namespace fjord::protocol::testing")
    return o.text()


# --- api tables ---------------------------------------------------------------------------------

def api_keys_text(requests):
    o = Out()
    o("#pragma once")
    o("// Generated by tools/protocol/generate.py from protocol/schema/messages/*Request.json.")
    o("// Do not edit.")
    o()
    o("#include <array>")
    o("#include <cstdint>")
    o("#include <string_view>")
    o()
    o("namespace fjord::protocol {")
    o()
    o("enum class ApiKey : int16_t {")
    for m in requests:
        o(f"  {api_const(m.name[:-7])} = {m.schema['api_key']},")
    o("};")
    o()
    o("// Listener bits of ApiInfo::listeners.")
    o("inline constexpr uint8_t kListenerBroker = 1;")
    o("inline constexpr uint8_t kListenerController = 2;")
    o("inline constexpr uint8_t kListenerZkBroker = 4;")
    o()
    o("// What the specs say of one API: its key, name and version range.")
    o("struct ApiInfo {")
    o("  ApiKey key;")
    o("  std::string_view name;")
    o("  int16_t min_version;")
    o("  int16_t max_version;")
    o("  int16_t first_flexible_version;  // -1: never flexible")
    o("  bool latest_version_unstable;")
    o("  uint8_t listeners;")
    o("  bool IsFlexible(int16_t version) const {")
    o("    return first_flexible_version >= 0 && version >= first_flexible_version;")
    o("  }")
    o("};")
    o()
    o(f"inline constexpr std::array<ApiInfo, {len(requests)}> kApis = {{{{")
    for m in requests:
        bits = []
        for lname, b in (("broker", "kListenerBroker"), ("controller", "kListenerController"),
                         ("zkBroker", "kListenerZkBroker")):
            if lname in m.schema["listeners"]:
                bits.append(b)
        lst = " | ".join(bits) if bits else "0"
        flex = m.flexible if m.flexible is not None else -1
        o(f"    {{ApiKey::{api_const(m.name[:-7])}, \"{m.name[:-7]}\", {m.valid[0]}, {m.valid[1]}, {flex}, "
          f"{'true' if m.schema['latest_unstable'] else 'false'}, {lst}}},")
    o("}};")
    o()
    o("// The entry for an API key, or nullptr for a key the specs do not define.")
    o("const ApiInfo* FindApi(int16_t api_key);")
    o()
    o("// Request header version for a request of this API and version: 2 when the request")
    o("// version is flexible, else 1 (0 only for ControlledShutdown v0).")
    o("int16_t RequestHeaderVersion(const ApiInfo& api, int16_t version);")
    o("// Response header version: 1 when flexible, else 0; ApiVersions always uses 0 (KIP-511).")
    o("int16_t ResponseHeaderVersion(const ApiInfo& api, int16_t version);")
    o()
    o("}  // namespace fjord::protocol")
    return o.text()


def api_keys_source(requests):
    o = Out()
    o("// Generated by tools/protocol/generate.py. Do not edit.")
    o('#include "fjord/protocol/api_keys.h"')
    o()
    o("namespace fjord::protocol {")
    o()
    o("const ApiInfo* FindApi(int16_t api_key) {")
    o("  switch (api_key) {")
    for i, m in enumerate(requests):
        o(f"    case {m.schema['api_key']}: return &kApis[{i}];")
    o("    default: return nullptr;")
    o("  }")
    o("}")
    o()
    o("int16_t RequestHeaderVersion(const ApiInfo& api, int16_t version) {")
    o("  if (api.key == ApiKey::kControlledShutdown && version == 0) return 0;")
    o("  return api.IsFlexible(version) ? 2 : 1;")
    o("}")
    o()
    o("int16_t ResponseHeaderVersion(const ApiInfo& api, int16_t version) {")
    o("  if (api.key == ApiKey::kApiVersions) return 0;")
    o("  return api.IsFlexible(version) ? 1 : 0;")
    o("}")
    o()
    o("}  // namespace fjord::protocol")
    return o.text()


def dispatch_text(requests, responses, records):
    o = Out()
    o("#pragma once")
    o("// Generated by tools/protocol/generate.py. Do not edit.")
    o("// Maps an API key (or a metadata record type) to its generated type at run time:")
    o("// Visit*(key, f) calls f(std::type_identity<T>{}) and returns false for an unknown key.")
    o("// Including this pulls in every message header: use it where dispatch is needed only.")
    o()
    o("#include <type_traits>")
    o()
    for m in requests + responses + records:
        o(f'#include "{m.include}"')
    o()
    o("namespace fjord::protocol {")
    for fn, lst, ns in (("VisitRequestType", requests, ""), ("VisitResponseType", responses, ""),
                        ("VisitMetadataRecordType", records, "metadata::")):
        o()
        o("template <typename F>")
        o(f"bool {fn}(int16_t key, F&& f) {{")
        o("  switch (key) {")
        for m in lst:
            o(f"    case {m.schema['api_key']}: f(std::type_identity<{ns}{m.name}>{{}}); return true;")
        o("    default: return false;")
        o("  }")
        o("}")
    o()
    o("}  // namespace fjord::protocol")
    return o.text()


# --- driver -------------------------------------------------------------------------------------

def load(schema_dir):
    msgs = []
    for set_name in SET_NAMESPACE:
        d = os.path.join(schema_dir, set_name)
        for fname in sorted(os.listdir(d)):
            if not fname.endswith(".json"):
                continue
            with open(os.path.join(d, fname), encoding="utf-8") as fh:
                schema = json.load(fh)
            if schema["valid"] is None:
                continue
            m = Message(schema)
            m.include = f"fjord/protocol/{set_name}/{snake(m.name)}.h"
            m.source = f"src/{set_name}/{snake(m.name)}.cc"
            msgs.append(m)
    return msgs


TEST_CHUNK = 24


def plan(msgs):
    files = {}
    requests = sorted([m for m in msgs if m.kind == "request"], key=lambda m: m.schema["api_key"])
    responses = sorted([m for m in msgs if m.kind == "response"], key=lambda m: m.schema["api_key"])
    records = sorted([m for m in msgs if m.kind == "metadata" and m.set == "metadata"],
                     key=lambda m: m.schema["api_key"])
    for m in msgs:
        api = m.kind in ("request", "response")
        files["include/" + m.include] = lambda m=m, api=api: header_text(m, api)
        files[m.source] = lambda m=m: source_text(m, m.include)
    files["include/fjord/protocol/api_keys.h"] = lambda: api_keys_text(requests)
    files["src/api_keys.cc"] = lambda: api_keys_source(requests)
    files["include/fjord/protocol/api_dispatch.h"] = lambda: dispatch_text(requests, responses, records)
    for i in range(0, len(msgs), TEST_CHUNK):
        chunk = msgs[i:i + TEST_CHUNK]
        files[f"tests/roundtrip_{i // TEST_CHUNK:02d}_test.cc"] = lambda c=chunk: test_text(c)
    return files


def write_if_changed(path, text):
    if os.path.exists(path):
        with open(path, encoding="utf-8") as fh:
            if fh.read() == text:
                return
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(text)


def main(argv):
    if len(argv) not in (3, 4):
        print(__doc__, file=sys.stderr)
        return 2
    schema_dir, out_dir = argv[1], argv[2]
    files = plan(load(schema_dir))
    if len(argv) == 4 and argv[3] == "--list":
        for rel in sorted(files):
            print(os.path.join(out_dir, rel))
        return 0
    for rel, make in sorted(files.items()):
        write_if_changed(os.path.join(out_dir, rel), make())
    # Touch a stamp so the build knows the generator ran even when nothing changed.
    with open(os.path.join(out_dir, "generated.stamp"), "w", encoding="utf-8") as fh:
        fh.write(f"{len(files)} files\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
