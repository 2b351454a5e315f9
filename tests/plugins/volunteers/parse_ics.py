#!/usr/bin/python3
"""Parses an iCalendar file with the standard `icalendar` library (Debian: python3-icalendar)
and prints what a calendar application would see, as JSON: the calendar's name and each event's
UID, summary, location, description, status, and start and end in UTC (ISO 8601).
Exits 1 with a message when the file does not parse."""
import json
import sys

import icalendar


def main(path):
    with open(path, "rb") as f:
        data = f.read()
    try:
        cal = icalendar.Calendar.from_ical(data)
    except Exception as e:  # the test shows the parser's own words
        print("does not parse: %s" % e, file=sys.stderr)
        return 1
    if cal.name != "VCALENDAR":
        print("not a VCALENDAR: %s" % cal.name, file=sys.stderr)
        return 1
    out = {"name": str(cal.get("X-WR-CALNAME", "")), "version": str(cal.get("VERSION", "")), "events": []}
    for ev in cal.walk("VEVENT"):
        out["events"].append({
            "uid": str(ev.get("UID")),
            "summary": str(ev.get("SUMMARY", "")),
            "location": str(ev.get("LOCATION", "")),
            "description": str(ev.get("DESCRIPTION", "")),
            "status": str(ev.get("STATUS", "")),
            "start": ev.decoded("DTSTART").isoformat(),
            "end": ev.decoded("DTEND").isoformat(),
        })
    print(json.dumps(out, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
