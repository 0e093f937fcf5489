#!/usr/bin/python3
"""exposition-series.py - the series of an exposition, read by a real parser.

    exposition-series.py text FILE     Prometheus text format 0.0.4 (prometheus_client.parser)
    exposition-series.py openmetrics FILE
                                       OpenMetrics 1.0.0 (prometheus_client.openmetrics.parser,
                                       strict: # EOF, _total/_created, histogram rules, clashes)
    exposition-series.py prometheus FILE
                                       the JSON of Prometheus's /api/v1/series, less the
                                       job and instance labels it adds

prints one line per series, sorted: the sample name, then its labels as a
JSON object with sorted keys. "le" is written as Python's repr of its
float ("1.0", "0.005", "inf"), so a bound spelt "1" in one format and
"1.0" in the other is one series. A parse error exits non-zero with the
parser's message. Uses Debian's python3-prometheus-client.
"""
import json
import sys

from prometheus_client.openmetrics.parser import text_string_to_metric_families as parse_om
from prometheus_client.parser import text_string_to_metric_families as parse_text


def series_line(name, labels):
    labels = dict(labels)
    if "le" in labels:
        labels["le"] = repr(float(labels["le"]))
    return name + json.dumps(labels, sort_keys=True, ensure_ascii=False)


def main():
    if len(sys.argv) != 3 or sys.argv[1] not in ("text", "openmetrics", "prometheus"):
        sys.exit(__doc__)
    kind, path = sys.argv[1], sys.argv[2]
    with open(path, encoding="utf-8") as f:
        data = f.read()
    lines = set()
    if kind == "prometheus":
        reply = json.loads(data)
        if reply.get("status") != "success":
            sys.exit("prometheus: " + data[:200])
        for s in reply["data"]:
            name = s.pop("__name__")
            s.pop("job", None)
            s.pop("instance", None)
            lines.add(series_line(name, s))
    else:
        parse = parse_om if kind == "openmetrics" else parse_text
        try:
            for family in parse(data):
                for s in family.samples:
                    lines.add(series_line(s.name, s.labels))
        except ValueError as e:
            sys.exit(f"{path}: not valid {kind}: {e}")
    for line in sorted(lines):
        print(line)


if __name__ == "__main__":
    main()
