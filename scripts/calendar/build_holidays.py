#!/usr/bin/env python3
"""Expand notices.py into field-core/data/calendar/YYYY.json (holiday-cn layout).

Usage: python3 scripts/calendar/build_holidays.py   (rewrites the JSON files; commit them)
"""
import datetime as dt
import json
import pathlib

from notices import NOTICES, PAPERS

ROOT = pathlib.Path(__file__).resolve().parents[2]
OUT = ROOT / "field-core" / "data" / "calendar"


def parse(year, text):
    if len(text) == 10:
        return dt.date.fromisoformat(text)
    return dt.date.fromisoformat(f"{year}-{text}")


def expand(year, spec):
    if ".." in spec:
        a, b = spec.split("..")
        start, end = parse(year, a), parse(year, b)
        return [start + dt.timedelta(days=i) for i in range((end - start).days + 1)]
    return [parse(year, spec)]


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    for year, holidays in sorted(NOTICES.items()):
        days = []
        for name, off, work in holidays:
            for spec in off:
                days += [{"name": name, "date": d.isoformat(), "isOffDay": True} for d in expand(year, spec)]
            for spec in work:
                days += [{"name": name, "date": d.isoformat(), "isOffDay": False} for d in expand(year, spec)]
        days.sort(key=lambda d: d["date"])
        dates = [d["date"] for d in days]
        assert len(dates) == len(set(dates)), f"{year}: a date appears twice"
        doc = {
            "$schema": "https://raw.githubusercontent.com/NateScarlet/holiday-cn/master/schema.json",
            "year": year,
            "papers": [PAPERS.get(year, f"国务院办公厅关于{year}年部分节假日安排的通知")],
            "days": days,
        }
        (OUT / f"{year}.json").write_text(json.dumps(doc, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {len(NOTICES)} years to {OUT}")


if __name__ == "__main__":
    main()
