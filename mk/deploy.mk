# SPDX-License-Identifier: Apache-2.0
# make kube-manifests: regenerate deploy/kubernetes/base/prometheusrule.yaml and
# grafana-dashboards.yaml from promql-tests/rules/ and dashboards/ (tests/integration/manifests.sh
# fails while they are stale).
.PHONY: kube-manifests
kube-manifests:
	$(shell [ -x /usr/bin/python3 ] && echo /usr/bin/python3 || echo python3) deploy/gen-kube.py
