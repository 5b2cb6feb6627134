# exporter_compat.py - runs Debian's prometheus-pgbouncer-exporter (1.7) against PgBouncer 1.8 and
# later, whose SHOW STATS calls total_requests total_query_count: unpatched, the exporter stops
# at start-up with KeyError 'total_requests'. Everything else is the packaged exporter's code
# (one SHOW per collector per scrape on one kept connection).
# SPDX-License-Identifier: MIT
import sys

from prometheus_pgbouncer_exporter import cli, collectors

metrics = collectors.StatsCollector.metrics
if "total_requests" in metrics:
    metrics["total_query_count"] = metrics.pop("total_requests")
sys.exit(cli.main())
