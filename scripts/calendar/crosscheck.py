#!/usr/bin/env python3
"""Cross-check field-core's embedded calendar against npm `chinese-days` for every day of 2004-2026.

Usage: python3 scripts/calendar/crosscheck.py PATH/TO/chinese-days.json
Exits 1 and lists every disagreeing date if the two sources differ on whether a day is worked.
"""
import datetime as dt
import json
import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parents[2]
DATA = ROOT / "field-core" / "data" / "calendar"

# Dates where the State Council notice itself contradicts the reference package (checked against the
# notice text); they are reported, not counted as failures.
KNOWN_REFERENCE_ERRORS = {
    "2005-12-31": "国办发明电〔2005〕35号: 将12月31日（星期六）、1月1日（星期日）两个公休日调至1月2日、3日，12月31日（星期六）上班",
}


def ours():
    off, work = set(), set()
    for f in sorted(DATA.glob("*.json")):
        for d in json.loads(f.read_text(encoding="utf-8"))["days"]:
            (off if d["isOffDay"] else work).add(d["date"])
    return off, work


def main():
    ref = json.loads(pathlib.Path(sys.argv[1]).read_text(encoding="utf-8"))
    ref_off, ref_work = set(ref["holidays"]), set(ref["workdays"])
    off, work = ours()
    bad = []
    day = dt.date(2004, 1, 1)
    checked = 0
    while day <= dt.date(2026, 12, 31):
        s = day.isoformat()
        weekend = day.weekday() >= 5
        mine = (s in work) or (not weekend and s not in off)
        theirs = (s in ref_work) or (not weekend and s not in ref_off)
        if mine != theirs and s in KNOWN_REFERENCE_ERRORS:
            print(f"{s}: reference differs, notice wins: {KNOWN_REFERENCE_ERRORS[s]}")
        elif mine != theirs:
            bad.append(f"{s} ({'Sat Sun'.split()[day.weekday() - 5] if weekend else 'weekday'}): "
                       f"ours={'work' if mine else 'off'} chinese-days={'work' if theirs else 'off'}")
        checked += 1
        day += dt.timedelta(days=1)
    for line in bad:
        print(line)
    print(f"calendar cross-check: {checked - len(bad)} passed, {len(bad)} failed")
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
