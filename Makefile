# The two commands a newcomer needs: `make demo` (the main job) and `make test`.
# Both create .venv on first use (scripts/setup_venv.sh).
VENV ?= .venv
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=

.PHONY: setup demo test test-fast bench clean-venv
setup: $(STAMP)

$(STAMP): requirements.txt requirements-ros.txt requirements-ros-jazzy.txt setup.py scripts/setup_venv.sh
	VENV=$(VENV) ./scripts/setup_venv.sh
	touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/wmp demo

test: $(STAMP)
	$(VENV)/bin/python -m pytest $(PYTEST_ARGS)

# The unit lane only (pure library tests, no node processes): about 5 min on 2 cores.
test-fast: $(STAMP)
	$(VENV)/bin/python -m pytest test/unit $(PYTEST_ARGS)

clean-venv:
	rm -rf $(VENV)
