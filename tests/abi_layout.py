#!/usr/bin/env python3
"""Layouts of the structs of bitnet.h: the baseline corpus against the
current one (both written by abidw, see tests/check_abi.sh).

    abi_layout.py BASELINE.xml CURRENT.xml

Every struct bitnet.h defines in the baseline must still be defined, with
each of its fields at the same offset, with the same name and type; new
fields may only follow the last old field (README "ABI policy").
A struct an exported function returns by value (the *_params structs of
*_params_default()) must also keep its size, as older programs size the
return slot. abidiff's has_data_member_inserted_at suppression cannot say
this: it also hides fields that moved, so the structs are checked here.
Exit 0 when compatible, 1 with one line per problem otherwise.
"""
import sys
import xml.etree.ElementTree as ET

HEADER = "bitnet.h"


class Corpus:
    def __init__(self, path):
        root = ET.parse(path).getroot()
        self.by_id = {}
        for el in root.iter():
            if el.get("id"):
                self.by_id.setdefault(el.get("id"), el)
        self.structs = {}  # name -> (size in bits, [(offset, field, type)])
        for el in root.iter("class-decl"):
            if el.get("is-struct") != "yes" or el.get("is-declaration-only") == "yes":
                continue
            if el.get("filepath", "").rsplit("/", 1)[-1] != HEADER or not el.get("name"):
                continue
            fields = []
            for dm in el.findall("data-member"):
                var = dm.find("var-decl")
                fields.append((int(dm.get("layout-offset-in-bits", "0")), var.get("name"),
                               self.type_name(var.get("type-id"))))
            self.structs.setdefault(el.get("name"), (int(el.get("size-in-bits", "0")), fields))
        # Structs that an exported function returns by value.
        self.by_value = {}
        for fn in root.iter("function-decl"):
            ret = fn.find("return")
            if fn.get("elf-symbol-id") and ret is not None:
                name = self.struct_of(ret.get("type-id"))
                if name:
                    self.by_value.setdefault(name, fn.get("name"))

    def struct_of(self, type_id, depth=0):
        """The struct a type is, through typedefs and qualifiers; else None."""
        el = self.by_id.get(type_id)
        if el is None or depth > 16:
            return None
        if el.tag == "class-decl":
            return el.get("name")
        if el.tag in ("typedef-decl", "qualified-type-def"):
            return self.struct_of(el.get("type-id"), depth + 1)
        return None

    def type_name(self, type_id, depth=0):
        el = self.by_id.get(type_id)
        if el is None or depth > 16:
            return "?"
        tag = el.tag
        if tag in ("type-decl", "typedef-decl"):
            return el.get("name")
        if tag in ("class-decl", "union-decl", "enum-decl"):
            return {"class-decl": "struct ", "union-decl": "union ", "enum-decl": "enum "}[tag] + el.get("name", "")
        if tag == "pointer-type-def":
            return self.type_name(el.get("type-id"), depth + 1) + "*"
        if tag == "qualified-type-def":
            quals = [q for q in ("const", "volatile", "restrict") if el.get(q) == "yes"]
            return " ".join(quals + [self.type_name(el.get("type-id"), depth + 1)])
        if tag == "array-type-def":
            return "%s[%s bits]" % (self.type_name(el.get("type-id"), depth + 1), el.get("size-in-bits"))
        if tag == "function-type":
            return "function"
        return tag


def main():
    if len(sys.argv) != 3:
        print(__doc__)
        return 2
    base, cur = Corpus(sys.argv[1]), Corpus(sys.argv[2])
    problems, appended = [], 0
    for name, (size, fields) in sorted(base.structs.items()):
        if name not in cur.structs:
            problems.append("%s: no longer defined in %s" % (name, HEADER))
            continue
        new_size, new_fields = cur.structs[name]
        at = {off: (field, typ) for off, field, typ in new_fields}
        for off, field, typ in fields:
            now = at.get(off)
            if now != (field, typ):
                problems.append("%s.%s (%s at bit %d) is now %s" % (
                    name, field, typ, off, "%s %s" % (now[1], now[0]) if now else "gone from that offset"))
        old = {(off, field) for off, field, _ in fields}
        last = max((off for off, _, _ in fields), default=-1)
        for off, field, typ in new_fields:
            if (off, field) in old or field in {f for _, f, _ in fields}:
                continue  # unchanged, or moved (reported above)
            if off <= last:  # (after the last old field, the tail padding may be used)
                problems.append("%s.%s (%s) inserted at bit %d, before the old last field" %
                                (name, field, typ, off))
            else:
                appended += 1
        fn = base.by_value.get(name) or cur.by_value.get(name)
        if new_size < size:
            problems.append("%s shrank from %d to %d bits" % (name, size, new_size))
        elif fn and new_size != size:
            problems.append("%s grew from %d to %d bits, but %s() returns it by value: older programs "
                            "size the return slot (new fields must fit in its tail padding)" %
                            (name, size, new_size, fn))
    for p in problems:
        print("layout:", p)
    if problems:
        return 1
    print("layout: %d structs of %s compatible (%d fields appended, %d new structs)" %
          (len(base.structs), HEADER, appended, len(set(cur.structs) - set(base.structs))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
