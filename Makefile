# drctl: all set-up lives here. `make demo` and `make test` work on a fresh Debian 12 machine as root.
SHELL := /bin/bash
VENV  := .venv
PY    := $(VENV)/bin/python
DRCTL := $(VENV)/bin/drctl
APT_PACKAGES := postgresql-15 postgresql-contrib etcd-server etcd-client haproxy nginx \
	iptables conntrack prometheus prometheus-node-exporter pgbackrest supervisor \
	python3-venv python3-dev openssh-server sudo curl procps psmisc iproute2 build-essential libpq-dev

.PHONY: setup lock demo test test-unit test-integration lint bench soak clean

setup: $(VENV)/.installed

/var/lib/drctl/.apt-done:
	@echo "==> installing Debian packages"
	apt-get update -q
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $(APT_PACKAGES)
	mkdir -p /var/lib/drctl && touch $@

# constraints.txt pins every package to the versions the tests last passed with, so a clean
# clone installs what was tested; `make lock` moves them to the newest that pyproject allows.
$(VENV)/.installed: pyproject.toml constraints.txt /var/lib/drctl/.apt-done
	@echo "==> creating $(VENV) from Debian's python3"
	test -x $(PY) || /usr/bin/python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -c constraints.txt -e '.[production,dev]'
	touch $@

lock: /var/lib/drctl/.apt-done
	rm -rf $(VENV)-lock
	/usr/bin/python3 -m venv $(VENV)-lock
	$(VENV)-lock/bin/pip install -q --upgrade pip
	$(VENV)-lock/bin/pip install -q -e '.[production,dev]'
	{ sed -n '1,2p' constraints.txt; $(VENV)-lock/bin/pip freeze --exclude-editable; } > constraints.new
	mv constraints.new constraints.txt
	rm -rf $(VENV)-lock
	@echo "constraints.txt updated: run make test before committing it"

demo: setup
	$(DRCTL) topology validate
	$(DRCTL) lab up
	$(DRCTL) lab seed
	$(DRCTL) drill run site-loss-brindisi --yes
	$(DRCTL) plan render
	$(DRCTL) plan check
	$(DRCTL) lab status

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(VENV)/bin/mypy stacks benchmarks

test-unit: setup
	$(VENV)/bin/pytest tests/unit -q

test-integration: setup
	$(VENV)/bin/pytest tests/integration -q -x

test: setup lint
	$(DRCTL) topology validate
	$(DRCTL) plan check
	$(VENV)/bin/pytest tests -q --durations=25

bench: setup
	$(PY) -m benchmarks

soak: setup
	$(DRCTL) lab up
	$(DRCTL) drill soak --cycles 50 --json soak.json

clean:
	-$(DRCTL) lab down
	rm -rf $(VENV) build *.egg-info
