# barge: everything a fresh Debian machine needs is installed by these targets.
#   make demo   install, start the daemon, build the busybox image, run a container
#   make test   install, then run every test suite (the house rules of `make lint` first)
#   make bench  run the benchmarks (see bench/README.md)

PYTHON   ?= python3
VENV     := .venv
BIN      := $(VENV)/bin
STAMP    := $(VENV)/.installed
# libseccomp2: the exec driver compiles containers' seccomp filters with it.
# gcc, libc6-dev: the security tests build a small static probe (tests/security/probe.c).
# git: the builder clones git build contexts (`remote=`, `barge build <git URL>`).
# docker.io, docker-compose: the reference dockerd, and compose 1.29 for the compat tests (tests/compat/test_compose.py).
DEB_PKGS := busybox-static openssl ca-certificates nftables iproute2 libseccomp2 docker-registry skopeo apache2-utils \
            gcc libc6-dev git docker.io docker-compose
PLUGINS  := plugins/graph_vfs plugins/graph_overlay plugins/exec_native plugins/net_bridge tests/example_driver
SOCKET   := /run/barge/barge.sock
DEMO_LOG := /var/log/barge-demo.log

.PHONY: install deps demo test unit lint bench bench-build bench-containers bench-load bench-network bench-registry bench-chaos stop clean

deps:
	@missing=""; for p in $(DEB_PKGS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  apt-get install -y -q $$missing >/dev/null 2>&1 || { apt-get update -q >/dev/null && apt-get install -y -q $$missing; }; \
	fi

$(STAMP): pyproject.toml $(addsuffix /pyproject.toml,$(PLUGINS))
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check -e '.[test]' $(addprefix -e ,$(PLUGINS))
	ln -sf $(abspath $(BIN))/barge /usr/local/bin/barge
	touch $@

install: deps $(STAMP)

demo: install
	@if $(BIN)/barge version >/dev/null 2>&1; then echo "barge daemon already running"; else \
	  echo "starting barge daemon (log: $(DEMO_LOG))"; \
	  (umask 077; nohup $(BIN)/barge daemon >$(DEMO_LOG) 2>&1 &) ; \
	  for i in $$(seq 50); do [ -S $(SOCKET) ] && $(BIN)/barge version >/dev/null 2>&1 && break; sleep 0.1; done; \
	fi
	$(BIN)/barge info --format 'storage driver: {{.Driver}}'
	$(BIN)/barge mkimage busybox
	$(BIN)/barge images busybox
	$(BIN)/barge run --rm busybox sh -c 'echo "Hello from barge: container $$(hostname), running as pid $$$$"'
	@echo "the daemon keeps running; try: DOCKER_HOST=unix://$(SOCKET) docker images   (stop it with: make stop)"

stop:
	@if [ -f /run/barge/barge.pid ]; then kill -TERM $$(cat /run/barge/barge.pid) && echo "stopped barge daemon"; fi

test: install
	bash tests/run.sh

lint: install
	bash tests/lint.sh

unit: install
	$(BIN)/python -m pytest -q tests/unit

bench: install
	$(BIN)/python bench/import_layer.py
	$(BIN)/python bench/build.py

bench-build: install
	$(BIN)/python bench/build.py

bench-containers: install
	$(BIN)/python bench/containers.py

bench-load: install
	flock /tmp/barge-heavy.lock $(BIN)/python bench/load.py

bench-network: install
	$(BIN)/python bench/network.py

bench-registry: install
	$(BIN)/python bench/registry.py

bench-chaos: install
	flock /tmp/barge-heavy.lock $(BIN)/python bench/chaos.py

clean:
	rm -rf $(VENV) .pytest_cache
