#!/usr/bin/env python3
"""Writes a copy of an abidw corpus with one deliberate ABI break, so that
tests/check_abi.sh can check that it really rejects breaks:

    abi_mutate.py KIND IN.xml OUT.xml

KIND: swap   two int32_t fields of bitnet_context_params trade places
      grow   bitnet_sampler_params (returned by value) grows by 8 bytes
      enum   BITNET_ERR_IO is renumbered
      param  bitnet_context_decode's token count becomes an int64_t
      remove bitnet_model_gguf_version disappears
"""
import sys
import xml.etree.ElementTree as ET


def find(root, tag, name):
    for el in root.iter(tag):
        if el.get("name") == name:
            return el
    raise SystemExit("abi_mutate: no %s %s" % (tag, name))


def main():
    if len(sys.argv) != 4:
        print(__doc__)
        return 2
    kind, src, dst = sys.argv[1:]
    tree = ET.parse(src)
    root = tree.getroot()
    if kind == "swap":
        st = find(root, "class-decl", "bitnet_context_params")
        a, b = (dm.find("var-decl") for dm in st.findall("data-member")
                if dm.find("var-decl").get("name") in ("n_ctx", "n_batch"))
        name_a, name_b = a.get("name"), b.get("name")
        a.set("name", name_b)
        b.set("name", name_a)
    elif kind == "grow":
        st = find(root, "class-decl", "bitnet_sampler_params")
        st.set("size-in-bits", str(int(st.get("size-in-bits")) + 64))
    elif kind == "enum":
        en = find(root, "enum-decl", "bitnet_status")
        find(en, "enumerator", "BITNET_ERR_IO").set("value", "20")
    elif kind == "param":
        i64 = find(root, "typedef-decl", "int64_t").get("id")
        fn = find(root, "function-decl", "bitnet_context_decode")
        fn.findall("parameter")[2].set("type-id", i64)
    elif kind == "remove":
        for parent in root.iter():
            for el in list(parent):
                if el.get("name") == "bitnet_model_gguf_version" and el.tag in ("elf-symbol", "function-decl"):
                    parent.remove(el)
    else:
        print(__doc__)
        return 2
    tree.write(dst)
    return 0


if __name__ == "__main__":
    sys.exit(main())
