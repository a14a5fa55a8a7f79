"""Serve the drctl collector's metrics over HTTP (/metrics) on an explicit registry."""

from __future__ import annotations

import functools
import gzip
import socket
import threading
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import parse_qs
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import CollectorRegistry, make_wsgi_app
from prometheus_client.exposition import (
    ThreadingWSGIServer,
    choose_encoder,
    generate_latest,
    gzip_accepted,
)
from prometheus_client.openmetrics import exposition as openmetrics

from drctl.topology.model import SiteService, Topology
from monitoring import exposition
from monitoring.collector import DrctlCollector

# prometheus_client compresses at level 9: at 1,000 systems (~1.4 MB of text) that alone costs
# about 35 ms of a scrape, for a body ~30% smaller than level 1 gives on a data-centre LAN.
GZIP_LEVEL = 1

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def default_listen(topo: Topology) -> tuple[str, int]:
    """The lab address of the site that runs the exporter (newyork), on ports.exporter."""
    sites = topo.sites_with(SiteService.EXPORTER)
    if not sites:
        raise ValueError("no site in the topology runs the drctl exporter")
    return str(sites[0].lab_address), topo.ports.exporter


def build_registry(collector: DrctlCollector) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(collector)
    return registry


def fast_format(environ: dict[str, Any]) -> tuple[exposition.Format, str] | None:
    """The format monitoring.exposition writes for this request and its Content-Type, as
    prometheus_client negotiates them; None when prometheus_client must answer (another method
    or format, name[] filters)."""
    if environ.get("REQUEST_METHOD") != "GET" or environ.get("PATH_INFO") == "/favicon.ico":
        return None
    if "name[]" in parse_qs(environ.get("QUERY_STRING", "")):
        return None
    encoder, content_type = choose_encoder(environ.get("HTTP_ACCEPT", ""))
    if encoder is generate_latest:
        return exposition.Format.TEXT, content_type
    if (
        isinstance(encoder, functools.partial)
        and encoder.func is openmetrics.generate_latest
        and encoder.keywords == {"escaping": openmetrics.UNDERSCORES, "version": "1.0.0"}
    ):
        return exposition.Format.OPENMETRICS, content_type
    return None


def metrics_app(registry: CollectorRegistry) -> WsgiApp:
    """/metrics in the text format or OpenMetrics 1.0.0 by monitoring.exposition (the same
    bytes as prometheus_client's writers, a fraction of their time); anything else by
    prometheus_client's WSGI app. Gzipped at GZIP_LEVEL when the scraper accepts it."""
    plain = make_wsgi_app(registry, disable_compression=True)

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        fast = fast_format(environ)
        if fast is not None:
            fmt, content_type = fast
            body = exposition.render(registry.collect(), fmt)
            headers = [("Content-Type", content_type)]
            if gzip_accepted(environ.get("HTTP_ACCEPT_ENCODING", "")):
                body = gzip.compress(body, compresslevel=GZIP_LEVEL)
                headers.append(("Content-Encoding", "gzip"))
            start_response("200 OK", headers)
            return [body]
        answer: dict[str, Any] = {}

        def keep(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> None:
            answer.update(status=status, headers=headers)

        body = b"".join(plain(environ, keep))
        headers = [(k, v) for k, v in answer["headers"] if k.lower() != "content-length"]
        if answer["status"].startswith("200") and gzip_accepted(
            environ.get("HTTP_ACCEPT_ENCODING", "")
        ):
            body = gzip.compress(body, compresslevel=GZIP_LEVEL)
            headers.append(("Content-Encoding", "gzip"))
        start_response(answer["status"], headers)
        return [body]

    return app


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        """Prometheus scrapes every few seconds: no access log line per scrape."""


def serve(registry: CollectorRegistry, host: str, port: int) -> tuple[WSGIServer, threading.Thread]:
    """Start serving in a daemon thread; port 0 picks a free port (see server.server_port)."""
    family, _, _, _, sockaddr = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]

    class Server(ThreadingWSGIServer):
        address_family = family  # IPv6 listen addresses too

    server = make_server(
        str(sockaddr[0]), port, metrics_app(registry), Server, handler_class=_QuietHandler
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True, name="drctl-exporter")
    thread.start()
    return server, thread
