# SPDX-License-Identifier: Apache-2.0
# Dashboards and PromQL rules (issue 6).
#   make promql-test   generated files current, lint, syntax, rule unit tests, metric names,
#                      and every dashboard query on two clusters' data in a real Prometheus
#                      (tests/integration/promql.sh and promql_data.sh, also run by `make test`)
#   make dashboards    regenerate dashboards/*.json and the dashboard reference in its README
#   make metrics-doc   regenerate docs/metrics.md from what hakari emits
.PHONY: promql-test dashboards metrics-doc
promql-test: all
	$(Q)O=$(O) TOP=$(CURDIR) HAKARI=$(CURDIR)/$(O)/hakari bash tests/integration/promql.sh
	$(Q)O=$(O) TOP=$(CURDIR) HAKARI=$(CURDIR)/$(O)/hakari bash tests/integration/promql_data.sh
dashboards:
	$(Q)python3 dashboards/gen.py
metrics-doc: all
	$(Q)python3 tests/tools/metrics_catalogue.py $(O)/hakari
