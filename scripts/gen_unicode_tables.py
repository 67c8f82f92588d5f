#!/usr/bin/python3
"""Generate lib/tokenizer/unicode_tables.c: the code point classes the BPE
pre-tokenizers need (\\p{L}, \\p{N}, \\s), as sorted inclusive range tables.

Run with Debian's system Python (its unicodedata module is the only input):

    /usr/bin/python3 scripts/gen_unicode_tables.py > lib/tokenizer/unicode_tables.c

The output is committed, so a build never runs Python.
"""
import sys
import unicodedata

MAX_CODEPOINT = 0x10FFFF

# \s as llama.cpp's unicode_cpt_flags define it: the White_Space property of
# PropList.txt (unchanged since Unicode 6). unicodedata does not expose that
# property and str.isspace() also accepts U+001C..U+001F, so it is listed here.
WHITE_SPACE = (
    list(range(0x0009, 0x000D + 1))
    + [0x0020, 0x0085, 0x00A0, 0x1680]
    + list(range(0x2000, 0x200A + 1))
    + [0x2028, 0x2029, 0x202F, 0x205F, 0x3000]
)


def ranges_of(pred):
    """Inclusive [first, last] runs of the code points where pred holds."""
    out = []
    start = None
    for cp in range(MAX_CODEPOINT + 2):
        inside = cp <= MAX_CODEPOINT and pred(cp)
        if inside and start is None:
            start = cp
        elif not inside and start is not None:
            out.append((start, cp - 1))
            start = None
    return out


def category_prefix(prefix):
    return lambda cp: unicodedata.category(chr(cp)).startswith(prefix)


def emit_table(name, ranges, what):
    print(f"/* {what}: {len(ranges)} ranges. */")
    print(f"const bn_unicode_range {name}[] = {{")
    line = "   "
    for first, last in ranges:
        item = f" {{0x{first:X}, 0x{last:X}}},"
        if len(line) + len(item) > 100:
            print(line)
            line = "   "
        line += item
    print(line)
    print("};")
    print(f"const size_t {name}_count = sizeof {name} / sizeof {name}[0];")
    print()


def main():
    white = set(WHITE_SPACE)
    print("/* GENERATED FILE - do not edit.")
    print(" * Made by scripts/gen_unicode_tables.py with /usr/bin/python3")
    print(f" * (Python {sys.version.split()[0]}, unicodedata {unicodedata.unidata_version}):")
    print(" *   /usr/bin/python3 scripts/gen_unicode_tables.py > lib/tokenizer/unicode_tables.c")
    print(" * Letters are the general categories L* (\\p{L}), numbers N* (\\p{N}), and")
    print(" * whitespace the White_Space property (\\s), as llama.cpp classifies them. */")
    print('#include "tokenizer/unicode.h"')
    print()
    emit_table("bn_unicode_letters", ranges_of(category_prefix("L")), "\\p{L}: Lu Ll Lt Lm Lo")
    emit_table("bn_unicode_numbers", ranges_of(category_prefix("N")), "\\p{N}: Nd Nl No")
    emit_table("bn_unicode_whitespace", ranges_of(lambda cp: cp in white), "\\s: White_Space")


if __name__ == "__main__":
    main()
