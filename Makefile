# The README's two commands: `make demo` and `make test`. Both install what is missing first.

SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PIP_FLAGS ?=

.PHONY: demo test install system-packages down status clean help

help:
	@echo "make demo   start the local platform (installs what is missing) and print the login"
	@echo "make test   run the whole test suite (installs what is missing)"
	@echo "make down   stop the local platform"

demo: install
	$(BIN)/eopde up

test: install
	@scripts/install-system-packages.sh --browser
	$(BIN)/mypy
	$(BIN)/python -m pytest $(PYTEST_ARGS)

down:
	$(BIN)/eopde down

status:
	$(BIN)/eopde status

install: system-packages $(VENV)/.installed hub_config/node_modules/.installed $(VENV)/share/jupyter/kernels/eopde/kernel.json $(VENV)/share/jupyter/lab/settings/overrides.json \
  $(VENV)/share/jupyter/labextensions/eopde/package.json $(VENV)/etc/jupyter/jupyter_server_config.d/eopde.json

system-packages:
	@scripts/install-system-packages.sh

# The Python environment: one venv for the hub, users' servers and their kernels.
$(VENV)/.installed: pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@echo "eopde: installing Python packages into $(VENV) (log: $(VENV)/pip.log)"
	@$(BIN)/python -m pip install -q -U pip > $(VENV)/pip.log 2>&1 || (cat $(VENV)/pip.log; exit 1)
	@set -o pipefail; $(BIN)/python -m pip install $(PIP_FLAGS) --progress-bar off -e '.[test]' 2>&1 \
	  | tee -a $(VENV)/pip.log | awk '/^Collecting/ {n++; if (n % 10 == 0) {printf "\reopde: %d packages resolved", n; fflush()}} \
	  /^Installing collected/ {printf "\neopde: installing them (a minute or two)..."; fflush()} \
	  END {print ""}' || (tail -40 $(VENV)/pip.log; exit 1)
	@touch $@

# JupyterHub's proxy (configurable-http-proxy), pinned by hub_config/package-lock.json.
hub_config/node_modules/.installed: hub_config/package-lock.json
	@echo "eopde: installing npm packages of hub_config/"
	@cd hub_config && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

# The "EO Python (eopde)" kernel, in the venv so that the hub's users see it.
$(VENV)/share/jupyter/kernels/eopde/kernel.json: kernels/eopde/kernel.json $(VENV)/.installed
	@$(BIN)/jupyter kernelspec install kernels/eopde --sys-prefix --name eopde > /dev/null 2>&1
	@touch $@  # the copy keeps the source's older date: without this, make reinstalls every time
	@echo "eopde: kernel 'EO Python (eopde)' installed"

# JupyterLab defaults for the platform's users (no news feed prompt: the demo runs offline).
$(VENV)/share/jupyter/lab/settings/overrides.json: hub_config/lab-settings/overrides.json $(VENV)/.installed
	@mkdir -p $(dir $@)
	@cp $< $@

# The JupyterLab extension (extension/), built offline: npm ci from the committed lock, then
# JupyterLab's builder against the installed JupyterLab's own core metadata (`jupyter labextension
# build` would look it up online). The wheel ships the result (pyproject.toml shared-data).
EXT_SOURCES := $(wildcard extension/src/*.ts extension/src/*.tsx extension/src/*/*.ts extension/src/*/*.tsx extension/schema/*.json extension/style/*)
EXT_BUILT := lib/eopde/labextension/package.json

extension/node_modules/.installed: extension/package-lock.json
	@echo "eopde: installing npm packages of extension/"
	@cd extension && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

$(EXT_BUILT): extension/node_modules/.installed extension/package.json extension/tsconfig.json $(EXT_SOURCES) $(VENV)/.installed
	@echo "eopde: building the JupyterLab extension"
	@cd extension && node_modules/.bin/tsc && node node_modules/@jupyterlab/builder/lib/build-labextension.js \
	  --core-path "$$($(abspath $(BIN))/python -c 'import jupyterlab, os; print(os.path.join(os.path.dirname(jupyterlab.__file__), "staging"))')" . > build.log 2>&1 \
	  || (cat build.log; exit 1)
	@touch $@

# Installed into the venv as a wheel would: the labextension and the server extension's switch.
$(VENV)/share/jupyter/labextensions/eopde/package.json: $(EXT_BUILT)
	@rm -rf $(dir $@) && mkdir -p $(dir $@) && cp -r lib/eopde/labextension/. $(dir $@)
	@echo "eopde: JupyterLab extension installed"

$(VENV)/etc/jupyter/jupyter_server_config.d/eopde.json: jupyter-config/jupyter_server_config.d/eopde.json $(VENV)/.installed
	@mkdir -p $(dir $@)
	@cp $< $@

clean:
	$(BIN)/eopde purge --yes
