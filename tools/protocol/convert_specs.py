#!/usr/bin/env python3
"""Converts Kafka's JSON message specs into Fjord's protocol schema.

Usage: convert_specs.py SPEC_DIR OUT_DIR

SPEC_DIR is a copy of Kafka's message spec folders (messages/, metadata-records/, ...).
OUT_DIR receives one JSON file per message, grouped by set. Only facts are kept: names,
types, version ranges, tags, defaults and flags. Doc strings and comments are dropped.

Fjord schema format (one object per file):
  name, kind (request|response|header|metadata|data), set, api_key (or null),
  valid [lo, hi] or null, flexible (first flexible version or null),
  listeners, latest_unstable, deprecated [lo, hi] or null,
  fields [...], common_structs [{name, versions, fields}].
A field: name, type, versions [lo, hi], and when present: nullable, tagged, tag,
default (always a string), map_key, ignorable, entity, flexible (per-field override,
null = never flexible), zero_copy, fields (inline struct).
An open range "N+" is written as [N, 32767].
"""
import json
import os
import re
import sys

OPEN = 32767

# Folder of the upstream spec set -> Fjord set name (namespace of the generated types).
SETS = {
    "messages": "messages",
    "metadata-records": "metadata",
    "group-coordinator-records": "group",
    "transaction-coordinator-records": "txn",
    "share-coordinator-records": "share",
    "raft-state": "raft",
    "storage-records": "storage",
}


def strip_comments(text):
    """Removes // line comments that are outside string literals."""
    out = []
    for line in text.splitlines():
        in_str = False
        esc = False
        cut = len(line)
        for i, ch in enumerate(line):
            if in_str:
                if esc:
                    esc = False
                elif ch == "\\":
                    esc = True
                elif ch == '"':
                    in_str = False
            elif ch == '"':
                in_str = True
            elif ch == "/" and line[i + 1:i + 2] == "/":
                cut = i
                break
        out.append(line[:cut])
    return "\n".join(out)


def parse_range(text, what):
    if text is None:
        return None
    text = str(text).strip()
    if text == "none":
        return None
    m = re.fullmatch(r"(\d+)\+", text)
    if m:
        return [int(m.group(1)), OPEN]
    m = re.fullmatch(r"(\d+)-(\d+)", text)
    if m:
        lo, hi = int(m.group(1)), int(m.group(2))
        if lo > hi:
            raise ValueError(f"{what}: empty range {text}")
        return [lo, hi]
    m = re.fullmatch(r"(\d+)", text)
    if m:
        return [int(text), int(text)]
    raise ValueError(f"{what}: bad version range {text!r}")


def norm_default(value):
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def convert_fields(fields, where):
    out = []
    for f in fields:
        name = f["name"]
        ctx = f"{where}.{name}"
        tagged = parse_range(f.get("taggedVersions"), ctx)
        versions = parse_range(f["versions"], ctx) if "versions" in f else tagged
        g = {"name": name, "type": f["type"].strip(), "versions": versions}
        if "nullableVersions" in f:
            g["nullable"] = parse_range(f["nullableVersions"], ctx)
        if tagged is not None:
            g["tagged"] = tagged
        if "tag" in f:
            g["tag"] = int(f["tag"])
        if "default" in f:
            g["default"] = norm_default(f["default"])
        if f.get("mapKey"):
            g["map_key"] = True
        if f.get("ignorable"):
            g["ignorable"] = True
        if "entityType" in f:
            g["entity"] = f["entityType"]
        if "flexibleVersions" in f:
            g["flexible"] = parse_range(f["flexibleVersions"], ctx)
        if f.get("zeroCopy"):
            g["zero_copy"] = True
        if "fields" in f:
            g["fields"] = convert_fields(f["fields"], ctx)
        out.append(g)
    return out


def convert(spec, set_name, path):
    name = spec["name"]
    flex = parse_range(spec.get("flexibleVersions"), name)
    out = {
        "name": name,
        "kind": spec["type"],
        "set": set_name,
        "api_key": spec.get("apiKey"),
        "valid": parse_range(spec.get("validVersions"), name),
        "flexible": flex[0] if flex else None,
        "listeners": spec.get("listeners", []),
        "latest_unstable": bool(spec.get("latestVersionUnstable", False)),
        "deprecated": parse_range(spec.get("deprecatedVersions"), name),
        "fields": convert_fields(spec.get("fields", []), name),
        "common_structs": [
            {"name": s["name"], "versions": parse_range(s["versions"], name + "." + s["name"]),
             "fields": convert_fields(s["fields"], name + "." + s["name"])}
            for s in spec.get("commonStructs", [])
        ],
    }
    if flex and flex[1] != OPEN:
        raise ValueError(f"{path}: flexible versions must be open-ended")
    return out


def main(argv):
    if len(argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    spec_dir, out_dir = argv[1], argv[2]
    count = 0
    for folder, set_name in SETS.items():
        src = os.path.join(spec_dir, folder)
        if not os.path.isdir(src):
            print(f"convert_specs: missing spec folder {src}", file=sys.stderr)
            return 1
        dst = os.path.join(out_dir, set_name)
        os.makedirs(dst, exist_ok=True)
        for stale in os.listdir(dst):
            if stale.endswith(".json"):
                os.remove(os.path.join(dst, stale))
        for fname in sorted(os.listdir(src)):
            if not fname.endswith(".json"):
                continue
            path = os.path.join(src, fname)
            with open(path, encoding="utf-8") as fh:
                spec = json.loads(strip_comments(fh.read()))
            schema = convert(spec, set_name, path)
            with open(os.path.join(dst, schema["name"] + ".json"), "w", encoding="utf-8") as fh:
                json.dump(schema, fh, indent=1, sort_keys=False)
                fh.write("\n")
            count += 1
    print(f"convert_specs: wrote {count} schema files to {out_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
