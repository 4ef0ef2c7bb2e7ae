# mini-deploy. `make demo` runs the main job, `make test` runs every test.

GO            ?= go
DOCKER        ?= docker
GO_TEST_TIMEOUT ?= 20m
MANAGED_LABEL := mini-deploy.io/managed

BIN       := bin/mini-deploy
BUILD_DIR := .build

# The kubia example images, by tag, with the link-time flags that make each one.
KUBIA_TAGS          := v1 v2 broken
KUBIA_LDFLAGS_v1     := -X main.version=v1
KUBIA_LDFLAGS_v2     := -X main.version=v2
KUBIA_LDFLAGS_broken := -X main.version=broken -X main.mode=broken
KUBIA_SRC    := $(filter-out %_test.go,$(wildcard examples/kubia/app/*.go)) go.mod
KUBIA_STAMPS := $(KUBIA_TAGS:%=$(BUILD_DIR)/kubia-%.stamp)

.DEFAULT_GOAL := build

.PHONY: build images kubia-stamps test lint clean demo bench screenshot help k8s

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-8s %s\n", $$1, $$2}'

build: ## build bin/mini-deploy
	$(GO) build -o $(BIN) ./cmd/mini-deploy

# A stamp alone would lie after `docker image rm` or on a fresh engine, so
# images first drops the stamp of every image the engine does not have, then
# lets a sub-make (which sees the files as they are now) rebuild what is stale.
images: ## build luksa/kubia:v1, :v2 and :broken locally (skipped when up to date)
	@for t in $(KUBIA_TAGS); do \
		$(DOCKER) image inspect luksa/kubia:$$t >/dev/null 2>&1 || rm -f $(BUILD_DIR)/kubia-$$t.stamp; \
	done
	@$(MAKE) --no-print-directory kubia-stamps

kubia-stamps: $(KUBIA_STAMPS)

# The images carry no mini-deploy.io/managed label on purpose: Docker copies
# image labels onto containers, and a container someone runs by hand from
# luksa/kubia must not look managed.
$(BUILD_DIR)/kubia-%.stamp: $(KUBIA_SRC) examples/kubia/Dockerfile
	@rm -rf $(BUILD_DIR)/kubia-$*
	@mkdir -p $(BUILD_DIR)/kubia-$*
	CGO_ENABLED=0 $(GO) build -trimpath -buildvcs=false -ldflags "-s -w $(KUBIA_LDFLAGS_$*)" \
		-o $(BUILD_DIR)/kubia-$*/kubia ./examples/kubia/app
	@cp examples/kubia/Dockerfile $(BUILD_DIR)/kubia-$*/Dockerfile
	$(DOCKER) build -q -t luksa/kubia:$* $(BUILD_DIR)/kubia-$*
	@touch $@

# The real Kubernetes control plane the side-by-side tests (k8stest/) run
# against, built from the Go module proxy at the version hack/k8s/go.mod pins,
# into a cache outside the repo; reused when present (cold: ~20-30 min on 2 cores).
k8s: ## build etcd, kube-apiserver and kube-controller-manager for k8stest (cached)
	./hack/k8s/build.sh

test: images ## unit and integration tests on the real engine, with -race
	$(GO) test -race -count=1 -timeout $(GO_TEST_TIMEOUT) ./...

lint: ## gofmt and go vet
	@out=$$(gofmt -l .); \
	if [ -n "$$out" ]; then echo "gofmt needed on:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

clean: ## remove every managed container and network, bin/ and .build/
	@ids=$$($(DOCKER) ps -aq --filter label=$(MANAGED_LABEL)) || exit 1; \
	if [ -n "$$ids" ]; then echo "removing containers:" $$ids; $(DOCKER) rm -f $$ids >/dev/null; fi
	@ids=$$($(DOCKER) network ls -q --filter label=$(MANAGED_LABEL)) || exit 1; \
	if [ -n "$$ids" ]; then echo "removing networks:" $$ids; $(DOCKER) network rm $$ids >/dev/null; fi
	rm -rf bin $(BUILD_DIR)

demo: build images ## run the demo (examples/demo.sh)
	./examples/demo.sh

bench: build images ## print the measured claims: proxy vs nginx and HAProxy, convergence vs the engine, failed requests during rollouts
	BASELINE=$(BASELINE) ./proxy/bench.sh
	@echo "== allocations per request: the forwarding path alone, then through a client connection on each server (in process)"
	@$(GO) test -run '^$$' -bench 'ServeHTTP|Server$$' -benchmem ./proxy/ | grep -E '^Benchmark'
	@echo "== convergence against the engine's floor: self-healing, a 3-pod rollout, scale 0 -> 20 (real engine)"
	@$(GO) test -count=1 -run '^$$' -bench BenchmarkConvergence -benchtime=3x ./orchestrator/ | grep -vE '^(goos|goarch|pkg|cpu|PASS)'
	@echo "== self-healing and zero-downtime rollouts (real engine)"
	@$(GO) test -count=1 -run 'TestSelfHealing|TestDeploymentRolloutAndUndoUnderLoad|TestBlueGreenSetSelectorUnderLoad' -v ./orchestrator/ \
		| grep -E 'self-healing:|rollout to v[12]:|set selector:|^(--- |ok|FAIL)'

screenshot: images ## retake docs/dashboard.png: the dashboard mid-rollout, by the browser test (needs chromium)
	DASHBOARD_SCREENSHOT=$(CURDIR)/docs/dashboard.png $(GO) test -count=1 -run TestE2EDashboardInBrowser ./cmd/mini-deploy/
	@ls -l docs/dashboard.png
