"""Request counters and a latency histogram per route, for the API's /metrics (Prometheus conventions).

Routes are the API's own path templates (an address or a transaction hash is never a label value), so the
number of series stays bounded whatever clients request.
"""
import re
import threading

BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
ROUTES = ("/health", "/metrics", "/api/status", "/api/events", "/api/marketplace/listings", "/api/wallet/{address}",
          "/api/deposits/{tx_hash}", "/", "/api")
_TEMPLATES = ((re.compile(r"^/api/wallet/[^/]+$"), "/api/wallet/{address}"),
              (re.compile(r"^/api/deposits/[^/]+$"), "/api/deposits/{tx_hash}"))


def route_of(path):
    if path in ROUTES:
        return path
    for pattern, template in _TEMPLATES:
        if pattern.match(path):
            return template
    return "other"


class HttpMetrics:
    def __init__(self):
        self._lock = threading.Lock()
        self._requests = {}    # (route, code) -> count
        self._histogram = {}   # route -> [per-bucket counts..., +Inf count, sum of seconds]

    def observe(self, path, code, seconds):
        route = route_of(path)
        with self._lock:
            self._requests[(route, str(code))] = self._requests.get((route, str(code)), 0) + 1
            hist = self._histogram.setdefault(route, [0] * (len(BUCKETS) + 1) + [0.0])
            for i, bound in enumerate(BUCKETS):
                if seconds <= bound:
                    hist[i] += 1
            hist[len(BUCKETS)] += 1
            hist[-1] += seconds

    def lines(self):
        with self._lock:
            requests = sorted(self._requests.items())
            histogram = sorted((route, list(values)) for route, values in self._histogram.items())
        out = ["# HELP usdx_http_requests_total HTTP requests answered by the API, by route and status code.",
               "# TYPE usdx_http_requests_total counter"]
        out += ['usdx_http_requests_total{route="%s",code="%s"} %d' % (route, code, n) for (route, code), n in requests]
        out += ["# HELP usdx_http_request_duration_seconds Time from a request's arrival to the end of its answer.",
                "# TYPE usdx_http_request_duration_seconds histogram"]
        for route, values in histogram:
            for bound, count in zip(BUCKETS, values):
                out.append('usdx_http_request_duration_seconds_bucket{route="%s",le="%g"} %d' % (route, bound, count))
            out.append('usdx_http_request_duration_seconds_bucket{route="%s",le="+Inf"} %d' % (route, values[len(BUCKETS)]))
            out.append('usdx_http_request_duration_seconds_sum{route="%s"} %r' % (route, round(values[-1], 6)))
            out.append('usdx_http_request_duration_seconds_count{route="%s"} %d' % (route, values[len(BUCKETS)]))
        return out
