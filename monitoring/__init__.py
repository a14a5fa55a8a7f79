"""Monitoring: the drctl exporter (a custom Prometheus collector), Prometheus configuration
generated from the topology, alert rules with promtool tests, and a Grafana dashboard."""
