# Paths a load balancer probes and Prometheus scrapes: under the protocol's short database deadline.
SHORT_DEADLINE_PATHS = ("/readyz", "/metrics")
