# gitward's two commands: `make demo` and `make test`. Both set up everything on a fresh machine,
# idempotently: Debian packages, .venv with gitward and its test extras, the cached Kubernetes builds
# (the current release from the Go modules, the default; `make test` also 1.20 from Debian's source).
SHELL := /bin/bash
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell sha256sum pyproject.toml | cut -c1-12)
PYTEST_ARGS ?= --durations=25

.PHONY: demo test test-1.20 lint deps venv kube kube-1.20 registry bench clean

deps:
	@scripts/install-system-packages

$(STAMP): pyproject.toml
	@echo "▸ creating $(VENV) and installing gitward with its test extras"
	@test -x $(BIN)/python || python3 -m venv $(VENV)
	@$(BIN)/pip install -q --upgrade pip
	@$(BIN)/pip install --progress-bar on -e '.[test]'
	@rm -f $(VENV)/.installed-* && touch $(STAMP)

venv: $(STAMP)

kube: deps venv
	@$(BIN)/gitward dev build

kube-1.20: deps venv
	@$(BIN)/gitward dev build --kubernetes 1.20

lint: venv
	@echo "▸ ruff"; $(BIN)/ruff check src tests bench image_tests && $(BIN)/ruff format --check src tests bench image_tests
	@echo "▸ mypy --strict"; $(BIN)/mypy
	@echo "▸ import-linter"; $(BIN)/lint-imports

# the whole suite on the default (current) Kubernetes, then again on 1.20 the integration tests whose
# behaviour depends on the API server's version: server-side apply and managed fields (beta in 1.20),
# drift and prune, CRD schemas and validation, RBAC and impersonation, install. `make test-1.20
# TESTS_1_20=tests/integration` runs all of tests/integration there.
TESTS_1_20 ?= $(addprefix tests/integration/,test_app_sync.py test_app_drift.py test_app_prune.py \
  test_app_crds_namespaces.py test_app_conflicts.py test_app_deletion.py test_spec_injection.py \
  test_impersonation.py test_least_privilege.py test_install.py test_testbed_cluster.py \
  test_ignore_differences.py test_rollouts_application.py)
PYTEST_1_20 := GITWARD_TEST_KUBERNETES=1.20 $(BIN)/pytest $(TESTS_1_20)
# the upstream registry (distribution v3, built from its Go module; the tag-pagination tests need it:
# Debian's registry 2.8 never paginates), cached under ~/.cache/gitward/registry/
registry: deps venv
	@echo "▸ upstream registry for the test bed (built once from its Go module, then cached)"
	@$(BIN)/python -c "from gitward.testing import upstream_registry as r; print('  ', r.ensure())"

test: deps venv kube kube-1.20 registry lint
	@echo "▸ pytest"
	@$(BIN)/pytest $(PYTEST_ARGS)
	@echo "▸ pytest: the version-sensitive integration tests on Kubernetes 1.20"
	@$(PYTEST_1_20) $(PYTEST_ARGS)

test-1.20: deps venv kube-1.20
	@echo "▸ pytest on Kubernetes 1.20: $(TESTS_1_20)"
	@$(PYTEST_1_20) $(PYTEST_ARGS)

demo: deps venv kube
	@$(BIN)/gitward dev demo

# the benchmark suite (bench/, docs/performance.md): its own control plane and Git server, every
# scenario side by side with its baselines; BENCH=1,2,3 for a subset, BENCH_QUICK=1 for small sizes.
# Not part of `make test` or CI: benchmarks are not tests.
BENCH ?=
BENCH_QUICK ?=
bench: deps venv kube flux
	@echo "▸ benchmarks$(if $(BENCH), $(BENCH),)$(if $(BENCH_QUICK), (quick),) → bench/results/latest.json"
	@BENCH="$(BENCH)" BENCH_QUICK="$(BENCH_QUICK)" $(BIN)/python -m bench

# gitward's HTTP/1.1 transport against httpx2's stock one (docs/performance.md, "The hand-written transport")
.PHONY: bench-transport
bench-transport: deps venv kube
	@echo "▸ transport benchmark → bench/results/transport-<date>.json"
	@$(BIN)/python -m bench.transport

# Flux's source-controller and kustomize-controller for the bench's peer column (bench/flux/): built
# once from their Go modules into ~/.cache/gitward/flux/<version>/ (idempotent); not part of `make test`
.PHONY: flux
flux: deps venv
	@$(BIN)/python -m bench.flux.build

# the dashboard pictures in docs/images/ (shown in the README): the browser tests, writing their
# screenshots there (`make test` writes them to a temporary directory and leaves the tree clean)
.PHONY: screenshots
screenshots: deps venv kube
	@echo "▸ browser tests → docs/images/*.png"
	@GITWARD_SCREENSHOTS=1 $(BIN)/pytest tests/e2e -q

# the container image (docs/image.md): dist/gitward-<version>.oci.tar, an OCI layout built without a
# container engine from Debian's packages (mmdebstrap, umoci; needs root), the same image as the Dockerfile
.PHONY: image image-test
image: venv
	@scripts/build-image

# the image run as the cluster runs it (user 65532, read-only root, /tmp): against the dev cluster
image-test: image kube
	@echo "▸ pytest image_tests"
	@$(BIN)/pytest image_tests $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
