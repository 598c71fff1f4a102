# HealthPrep: every command a person needs. `make help` lists them.
SHELL := bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help
MAKEFLAGS += --no-print-directory

MODULES   := shared proto migrations cloud desktop
TOOLS     := $(CURDIR)/.tools
STAMPS    := $(TOOLS)/stamps
export PATH := $(TOOLS)/bin:$(PATH)
export BUF_CACHE_DIR := $(CURDIR)/.cache/buf
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

# Pinned tool versions (installed into .tools/ with GOBIN).
STATICCHECK_VERSION := v0.8.2
BUF_VERSION         := v1.75.0
PROTOC_GEN_GO       := v1.36.12
PROTOC_GEN_CONNECT  := v1.21.1
STRIPE_MOCK_VERSION := v0.203.0
VERSITYGW_VERSION   := v1.8.0
NODE_PEERS          := cloud/internal/testpeer/node

# Debian packages the tests and the product need on a fresh machine.
APT_PACKAGES := postgresql poppler-utils chromium gnome-keyring dbus-daemon \
	libtesseract-dev libleptonica-dev tesseract-ocr tesseract-ocr-eng tesseract-ocr-osd \
	pkg-config libgl1-mesa-dev libx11-dev libxcursor-dev libxrandr-dev libxinerama-dev libxi-dev libxxf86vm-dev \
	xvfb xauth dbus-x11 imagemagick xdotool cups-daemon cups-client cups-core-drivers

.PHONY: help
help: ## list the targets
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-16s %s\n", $$1, $$2}'

## ---- installs (idempotent; a second run is fast) ----
.PHONY: deps apt tools peers
deps: apt ## install everything the tests and `make run` need
	@$(MAKE) -j4 tools peers

apt: ## install the Debian packages (postgresql, ...) if missing
	@need=""; for p in $(APT_PACKAGES); do dpkg -s "$$p" >/dev/null 2>&1 || need="$$need $$p"; done; \
	if [ -n "$$need" ]; then \
	  echo "apt: installing$$need"; \
	  $(SUDO) apt-get update -qq; \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$need >/dev/null; \
	fi

TOOL_STAMPS := $(STAMPS)/staticcheck-$(STATICCHECK_VERSION) $(STAMPS)/buf-$(BUF_VERSION) \
       $(STAMPS)/protoc-gen-go-$(PROTOC_GEN_GO) $(STAMPS)/protoc-gen-connect-go-$(PROTOC_GEN_CONNECT)
PEER_STAMPS := $(STAMPS)/stripe-mock-$(STRIPE_MOCK_VERSION) $(STAMPS)/versitygw-$(VERSITYGW_VERSION) \
       $(NODE_PEERS)/node_modules/.stamp
tools: $(TOOL_STAMPS) ## install pinned Go tools into .tools/

peers: $(PEER_STAMPS) ## install the test peers (stripe-mock, versitygw, npm mail/OAuth/FHIR servers)

$(STAMPS)/stripe-mock-%:
	GOBIN=$(TOOLS)/bin go install github.com/stripe/stripe-mock@$*
	@mkdir -p $(STAMPS) && touch $@
$(STAMPS)/versitygw-%:
	GOBIN=$(TOOLS)/bin go install github.com/versity/versitygw/cmd/versitygw@$*
	@mkdir -p $(STAMPS) && touch $@
$(NODE_PEERS)/node_modules/.stamp: $(NODE_PEERS)/package.json $(NODE_PEERS)/package-lock.json
	cd $(NODE_PEERS) && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

$(STAMPS)/staticcheck-%:
	GOBIN=$(TOOLS)/bin go install honnef.co/go/tools/cmd/staticcheck@$*
	@mkdir -p $(STAMPS) && touch $@
$(STAMPS)/buf-%:
	GOBIN=$(TOOLS)/bin go install github.com/bufbuild/buf/cmd/buf@$*
	@mkdir -p $(STAMPS) && touch $@
$(STAMPS)/protoc-gen-go-%:
	GOBIN=$(TOOLS)/bin go install google.golang.org/protobuf/cmd/protoc-gen-go@$*
	@mkdir -p $(STAMPS) && touch $@
$(STAMPS)/protoc-gen-connect-go-%:
	GOBIN=$(TOOLS)/bin go install connectrpc.com/connect/cmd/protoc-gen-connect-go@$*
	@mkdir -p $(STAMPS) && touch $@

## ---- the two commands ----
.PHONY: test unit run test-keystore soak screenshots eval-docs smoke build-windows
test: deps lint unit test-keystore screenshots ## install what is needed, check lint and generated code, run every test

unit: ## run the Go tests of every module (no installs)
	@for m in $(MODULES); do \
	  echo "== go test $$m"; \
	  (cd $$m && CGO_ENABLED=$${CGO_ENABLED:-1} go test -count=1 -timeout 20m ./...); \
	done
	@# The sync simulation once more from its directory, so its summary line
	@# (seed count and convergence) shows in the output.
	@cd desktop/internal/syncagent && go test -count=1 -run 'TestSimulation$$' | grep -E '^(sync simulation|ok|FAIL|---)'

screenshots: deps ## run the real window under Xvfb on the demo data (light/dark, 100/150 %), save PNGs to .run/screenshots and check them
	@mkdir -p .run/bin && rm -rf .run/screenshots
	cd desktop && go build -o ../.run/bin/healthprep-ui-demo ./cmd/healthprep-ui-demo
	LANG=en_US.UTF-8 dbus-run-session -- xvfb-run -a -s "-screen 0 1920x1200x24" .run/bin/healthprep-ui-demo -screenshots $(CURDIR)/.run/screenshots
	cd desktop && HP_SCREENSHOTS=$(CURDIR)/.run/screenshots go test -count=1 -run TestScreenshots ./cmd/healthprep-ui-demo
	@# The real healthprep gui against the real local stack, driven with xdotool (PNGs in .run/screenshots/real).
	cd cloud && go build -o ../.run/bin/ ./cmd/healthprep-cloud ./cmd/healthprep-sandbox ./cmd/healthprep-dev
	cd desktop && CGO_ENABLED=1 go build -o ../.run/bin/ ./cmd/healthprep
	cd cloud && HP_WINDOW_E2E=1 HP_WINDOW_BIN=$(CURDIR)/.run/bin HP_WINDOW_OUT=$(CURDIR)/.run/screenshots/real LANG=en_US.UTF-8 \
	  dbus-run-session -- xvfb-run -a -s "-screen 0 1280x800x24" go test -count=1 -timeout 10m -run 'TestWindow$$' -v ./cmd/healthprep-dev

eval-docs: ## documents: OCR CER/WER, PHI recall/precision/F2 on text PDFs and scans, classification, pipeline vs tesseract pages/s
	@cd desktop && go run ./cmd/healthprep-evaldocs -n 40 -seed 1

smoke: deps ## end to end on loopback: Postgres, cloud, sandbox, a headless desktop enrols, syncs and opens every prep sheet (SMOKE_DATA=DIR for other FHIR data)
	@mkdir -p .run/bin
	cd cloud && go build -o ../.run/bin/ ./cmd/healthprep-cloud ./cmd/healthprep-dev ./cmd/healthprep-sandbox
	cd desktop && CGO_ENABLED=0 go build -o ../.run/bin/ ./cmd/healthprep
	.run/bin/healthprep-dev -smoke -bin .run/bin $${SMOKE_DATA:+-data "$$SMOKE_DATA"}

build-windows: ## cross-build the Windows desktop (Fyne, cgo via mingw; OCR through a tesseract.exe process) into .run/bin
	@dpkg -s gcc-mingw-w64-x86-64 >/dev/null 2>&1 || { $(SUDO) apt-get update -qq; $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends gcc-mingw-w64-x86-64 >/dev/null; }
	@mkdir -p .run/bin
	cd desktop && CGO_ENABLED=1 GOOS=windows GOARCH=amd64 CC=x86_64-w64-mingw32-gcc go build -ldflags "-H=windowsgui -s -w" -o ../.run/bin/healthprep.exe ./cmd/healthprep

soak: ## run the sync simulation over many more seeds (SEEDS=n, default 500000)
	cd desktop/internal/syncagent && go test -count=1 -timeout 0 -run 'TestSimulation$$' -sim.seeds=$${SEEDS:-500000}

test-keystore: ## run the desktop key store tests against a real Secret Service (gnome-keyring on a private bus)
	@X=$$(mktemp -d); trap 'rm -rf $$X' EXIT; cd desktop && HP_REQUIRE_SECRET_SERVICE=1 XDG_DATA_HOME=$$X dbus-run-session -- sh -c 'echo test | gnome-keyring-daemon --unlock --components=secrets >/dev/null 2>&1; go test -count=1 -v -run "TestOS|TestWithOSKeyStore" ./internal/keystore ./internal/localstore' | grep -E '^(=== RUN|--- |ok|FAIL|PASS)'

run: deps ## start Postgres, the cloud core, the FHIR sandbox and a demo organisation on loopback, and open the desktop (state in .run/)
	@mkdir -p .run/bin
	cd cloud && go build -o ../.run/bin/ ./cmd/healthprep-cloud ./cmd/hpctl ./cmd/healthprep-dev ./cmd/healthprep-sandbox
	cd desktop && go build -o ../.run/bin/ ./cmd/healthprep
	.run/bin/healthprep-dev -dir .run $(RUN_FLAGS)

## ---- quality ----
.PHONY: lint fmt vet staticcheck generate check-generated bench
lint: fmt-check vet staticcheck check-generated ## gofmt, go vet, staticcheck, buf lint/breaking, generated code fresh

fmt-check:
	@out=$$(gofmt -l $(MODULES) | grep -v '/gen/' || true); \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

fmt: ## gofmt every module
	gofmt -w $(MODULES)

vet:
	@for m in $(MODULES); do (cd $$m && go vet ./...); done

staticcheck: tools
	@for m in $(MODULES); do (cd $$m && staticcheck ./...); done

generate: tools ## regenerate committed code (buf)
	@if [ -f buf.gen.yaml ]; then buf generate; fi

check-generated: tools ## fail when committed generated code is stale
	@if [ -f buf.gen.yaml ]; then \
	  buf lint; \
	  if git rev-parse --verify -q main >/dev/null && git cat-file -e main:proto 2>/dev/null; then buf breaking --against '.git#branch=main'; fi; \
	  tmp=$$(mktemp -d); cp -r proto/gen $$tmp/before; buf generate; \
	  if ! diff -r $$tmp/before proto/gen >/dev/null; then echo "generated code in proto/gen is stale: run make generate and commit"; rm -rf $$tmp; exit 1; fi; \
	  rm -rf $$tmp; \
	fi

bench: deps ## run every Go benchmark (speed and memory targets live here)
	@for m in $(MODULES); do (cd $$m && go test -run '^$$' -bench . -benchmem ./...); done

## ---- evaluation ----
.PHONY: eval-screening
ECQM_DEV := $(CURDIR)/../shared/data/ecqm-dev
eval-screening: ## compare screening statuses with the eCQM test cases in ../shared/data/ecqm-dev
	@if [ ! -d "$(ECQM_DEV)" ]; then \
	  echo "eval-screening: $(ECQM_DEV) is absent: the eCQM test patients are not in this checkout, nothing was evaluated"; exit 1; \
	fi
	@cd desktop && go run ./cmd/healthprep-eval "$(ECQM_DEV)"

## ---- presets ----
.PHONY: presets-codesets
ECQM_SPEC := $(CURDIR)/../shared/data/ecqm-spec
presets-codesets: ## regenerate shared/preset/codesets.json from codesets.src.json and the eCQM value sets in ../shared/data/ecqm-spec
	@if [ ! -d "$(ECQM_SPEC)/valueset" ]; then \
	  echo "presets-codesets: $(ECQM_SPEC)/valueset is absent: the eCQM specification is not in this checkout, nothing was generated"; exit 1; \
	fi
	@cd desktop && go run ./cmd/healthprep-codesets -valuesets "$(ECQM_SPEC)/valueset" \
	  -src ../shared/preset/codesets.src.json -out ../shared/preset/codesets.json

.PHONY: eval-phi
eval-phi: ## PHI detection: token recall per category, precision and F2 on 1,000 generated documents
	@cd desktop && go run ./cmd/healthprep-evalphi -n 1000 -seed 1
