"""The text of /metrics, written fast for the families the drctl collector yields.

At 1,000 systems a scrape is ~11,000 samples, and prometheus_client's writers spend ~7 µs on
each (name and label validation and escaping per sample): some 75 ms, more than reading the
estate. Every family drctl exports is a plain gauge (no timestamps, exemplars or units) whose
label names are valid Prometheus names, so each sample line is the name, the sorted labels with
escaped values, and the value as Go prints it. That is all this writer does; any other family is
handed to prometheus_client's own writer, so the output is byte-for-byte what
`prometheus_client.exposition.generate_latest` (text format 0.0.4) or
`prometheus_client.openmetrics.exposition.generate_latest` (OpenMetrics 1.0.0, what Prometheus
asks for first) would write (tests/unit/monitoring/test_exposition.py compares them).

Families that never change (the topology's) are `FrozenFamily`: their text is written once and
reused on every scrape. The collector builds its families as `GaugeLines`, which write each
sample's line as it is added instead of keeping a Sample (a tuple and a dict) to write later.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from enum import Enum

from prometheus_client.core import Metric
from prometheus_client.exposition import generate_latest as text_latest
from prometheus_client.openmetrics.exposition import generate_latest as openmetrics_latest
from prometheus_client.samples import Sample
from prometheus_client.utils import floatToGoString as _untyped_go_float

# prometheus_client's own float formatting (Go's: "1.7e+09", "+Inf", "NaN"), typed for mypy
_go_float: Callable[[float], str] = _untyped_go_float

_LEGACY_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
_LEGACY_LABEL = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")


class Format(Enum):
    TEXT = "text 0.0.4"
    OPENMETRICS = "OpenMetrics 1.0.0"


class FrozenFamily(Metric):
    """A metric family whose samples are fixed once built: its text is written once per format.

    It is still an ordinary Metric, so prometheus_client's writers (name[] filters, other
    formats) read it as any other."""

    def __init__(self, family: Metric) -> None:
        super().__init__(family.name, family.documentation, family.type, family.unit)
        self.samples = list(family.samples)
        self._text: dict[Format, str] = {}

    def text(self, fmt: Format) -> str:
        # two scrapes at once may both write it: the same text, so no lock is needed
        if fmt not in self._text:
            self._text[fmt] = family_text(self, fmt)
        return self._text[fmt]


class GaugeLines(Metric):
    """A gauge family (GaugeMetricFamily's add_metric) that writes each sample's line as it is
    added: at 1,000 systems a scrape adds a few thousand samples, and a Sample each, written
    later, costs about twice as much. Its `samples` are built on demand for prometheus_client's
    writers and readers (name[] filters, CollectorRegistry.get_sample_value)."""

    def __init__(self, name: str, documentation: str, labels: Sequence[str]) -> None:
        super().__init__(name, documentation, "gauge")
        if _LEGACY_NAME.fullmatch(name) is None or not all(
            _LEGACY_LABEL.fullmatch(k) for k in labels
        ):
            raise ValueError(f"{name}: not a plain Prometheus metric or label name")
        self._labelnames = tuple(labels)
        self._added: list[tuple[Sequence[str], float]] = []
        self._lines: list[str] = []
        # the label values' places in the line: label names sorted, as prometheus_client writes
        order = sorted(range(len(labels)), key=labels.__getitem__)
        self._places = [(f'{labels[i]}="', i) for i in order]
        # most families have two labels: their line is written from one template
        self._two = (order[0], order[1], f'{name}{{{labels[order[0]]}="',
                     f'",{labels[order[1]]}="') if len(labels) == 2 else None  # fmt: skip

    @property
    def samples(self) -> list[Sample]:
        names = self._labelnames
        return [Sample(self.name, dict(zip(names, v, strict=True)), x) for v, x in self._added]

    @samples.setter
    def samples(self, value: list[Sample]) -> None:
        if value:  # Metric.__init__ sets [], which is what this family starts with anyway
            raise AttributeError("GaugeLines: add samples with add_metric")

    def add_metric(self, labels: Sequence[str], value: float) -> None:
        if len(labels) != len(self._labelnames):
            raise ValueError(f"{self.name}: {len(labels)} label values for {self._labelnames}")
        self._added.append((labels, value))
        if self._two is not None:
            i, j, head, middle = self._two
            line = f'{head}{_escape(labels[i])}{middle}{_escape(labels[j])}"}} {_value(value)}\n'
        elif not labels:
            line = f"{self.name} {_value(value)}\n"
        else:
            pairs = '",'.join([h + _escape(labels[i]) for h, i in self._places])
            line = f'{self.name}{{{pairs}"}} {_value(value)}\n'
        self._lines.append(line)

    def text(self, fmt: Format) -> str:
        return _family_head(self, fmt) + "".join(self._lines)


def render(metrics: Iterable[Metric], fmt: Format) -> bytes:
    """The whole answer to a scrape in `fmt`, as prometheus_client would write it."""
    parts = [
        m.text(fmt) if isinstance(m, FrozenFamily | GaugeLines) else family_text(m, fmt)
        for m in metrics
    ]
    if fmt is Format.OPENMETRICS:
        parts.append("# EOF\n")
    return "".join(parts).encode("utf-8")


def family_text(metric: Metric, fmt: Format) -> str:
    """One family's HELP, TYPE and sample lines."""
    lines = _gauge_lines(metric) if _is_plain_gauge(metric) else None
    if lines is None:
        return _by_prometheus_client(metric, fmt)
    return _family_head(metric, fmt) + "".join(lines)


def _family_head(metric: Metric, fmt: Format) -> str:
    """A gauge family's HELP and TYPE lines."""
    name, doc = metric.name, metric.documentation.replace("\\", r"\\").replace("\n", r"\n")
    if fmt is Format.OPENMETRICS:
        doc = doc.replace('"', r"\"")  # OpenMetrics escapes quotes in HELP too
    return f"# HELP {name} {doc}\n# TYPE {name} gauge\n"


def _is_plain_gauge(metric: Metric) -> bool:
    return (
        metric.type == "gauge"
        and not metric.unit
        and _LEGACY_NAME.fullmatch(metric.name) is not None
    )


def _gauge_lines(metric: Metric) -> list[str] | None:
    """`name{labels} value` per sample, or None if a sample needs prometheus_client's writer."""
    name = metric.name
    lines = []
    keys: tuple[str, ...] = ()
    order: list[str] = []  # the label names, sorted as prometheus_client sorts them
    for s in metric.samples:
        if s.name != name or s.timestamp is not None or s.exemplar or s.native_histogram:
            return None
        labels = s.labels
        if tuple(labels) != keys:  # a family's samples share their label names: sort once
            keys = tuple(labels)
            if not all(_LEGACY_LABEL.fullmatch(k) for k in keys):
                return None
            order = sorted(keys)
        if order:
            pairs = ",".join([f'{k}="{_escape(labels[k])}"' for k in order])
            lines.append(f"{name}{{{pairs}}} {_go_float(s.value)}\n")
        else:
            lines.append(f"{name} {_go_float(s.value)}\n")
    return lines


def _value(value: float) -> str:
    """_go_float, with its common case first: a finite value below 1e6 is written as Python
    writes it (Go switches to an exponent sooner only for large positive values)."""
    f = float(value)
    return repr(f) if -1e300 < f < 1e6 else _go_float(f)


def _escape(value: str) -> str:
    if "\\" in value or "\n" in value or '"' in value:
        return value.replace("\\", r"\\").replace("\n", r"\n").replace('"', r"\"")
    return value


class _One:
    """A registry of one family, for prometheus_client's writers."""

    def __init__(self, metric: Metric) -> None:
        self.metric = metric

    def collect(self) -> Iterator[Metric]:
        yield self.metric


def _by_prometheus_client(metric: Metric, fmt: Format) -> str:
    if fmt is Format.TEXT:
        return text_latest(_One(metric)).decode("utf-8")
    text: str = openmetrics_latest(_One(metric)).decode("utf-8")  # type: ignore[no-untyped-call]
    return text.removesuffix("# EOF\n")
