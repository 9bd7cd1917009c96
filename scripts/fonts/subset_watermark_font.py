#!/usr/bin/env python3
"""Builds the CJK font subset that field-core embeds to draw photo watermarks.

Source: Noto Sans CJK SC (SIL Open Font License 1.1, no Reserved Font Names), as shipped in
Debian's `fonts-noto-cjk` package. The subset keeps printable ASCII, Latin-1 punctuation, CJK
punctuation and full-width forms, and every character of GB 2312 (6,763 hanzi), which covers
job numbers, dates, coordinates, people's names and addresses in all but rare cases. Characters
outside it are drawn as the font's missing-glyph box by the watermark code, never dropped.

Usage: pip install fonttools; apt-get install fonts-noto-cjk;
       python3 scripts/fonts/subset_watermark_font.py
"""
import pathlib
import sys

from fontTools import subset
from fontTools.ttLib import TTCollection

SRC = pathlib.Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc")
OUT = pathlib.Path(__file__).resolve().parents[2] / "field-core/data/fonts/NotoSansSC-Bold-GB2312.otf"


def gb2312_chars():
    chars = set()
    for hi in range(0xA1, 0xF8):
        for lo in range(0xA1, 0xFF):
            try:
                chars.add(bytes([hi, lo]).decode("gb2312"))
            except UnicodeDecodeError:
                pass
    return chars


def main():
    chars = set(chr(c) for c in range(0x20, 0x7F))
    chars |= set(chr(c) for c in range(0xA0, 0x100))
    chars |= set(chr(c) for c in range(0x3000, 0x3040))  # CJK punctuation
    chars |= set(chr(c) for c in range(0xFF00, 0xFFF0))  # full-width forms
    chars |= set("·—–…‘’“”•′″℃№")
    chars |= gb2312_chars()
    collection = TTCollection(str(SRC))
    font = next(f for f in collection.fonts if "Noto Sans CJK SC" in f["name"].getDebugName(4))
    opts = subset.Options()
    opts.layout_features = []  # no shaping: the watermark draws glyphs left to right
    opts.hinting = False
    opts.name_IDs = ["*"]
    opts.notdef_outline = True
    opts.desubroutinize = False
    sub = subset.Subsetter(opts)
    sub.populate(unicodes=[ord(c) for c in chars])
    sub.subset(font)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    font.save(str(OUT))
    print(f"{OUT}: {OUT.stat().st_size} bytes, {len(chars)} characters", file=sys.stderr)


if __name__ == "__main__":
    main()
