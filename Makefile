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

# The whole suite in two runs, both always run, failing if either fails: the unit lane (pure
# library, CPU-bound) on UNIT_WORKERS pytest-xdist workers (default 2, one per core of the 2-core CI
# machine), then the node, fault and stack tests on PROCESS_WORKERS workers (default 2: their node
# processes spend most of their time waiting on each other and on real time; each test holds its
# own ROS_DOMAIN_ID lease, so two at once never hear each other; 9 min 15 s against 14 min 30 s
# one at a time on the 2-core machine; PROCESS_WORKERS=0 runs them one at a time in one process).
# pytest's status 5 (no test selected, e.g. by -k) from one run is not a failure; from both, it is
# the status.
UNIT_WORKERS ?= 2
PROCESS_WORKERS ?= 2
test: $(STAMP)
	@u=0; s=0; \
	$(VENV)/bin/python -m pytest -n $(UNIT_WORKERS) test/unit $(PYTEST_ARGS) || u=$$?; \
	$(VENV)/bin/python -m pytest -n $(PROCESS_WORKERS) test/nodes test/faults test/stack $(PYTEST_ARGS) || s=$$?; \
	if [ $$u -eq 5 ] && [ $$s -eq 5 ]; then exit 5; fi; \
	if [ $$u -ne 0 ] && [ $$u -ne 5 ]; then exit $$u; fi; \
	if [ $$s -ne 0 ] && [ $$s -ne 5 ]; then exit $$s; fi

# The unit lane only (pure library tests, no node processes), on UNIT_WORKERS workers: about
# 3 min on the 2-core machine (5 min on one worker).
test-fast: $(STAMP)
	$(VENV)/bin/python -m pytest -n $(UNIT_WORKERS) test/unit $(PYTEST_ARGS)

clean-venv:
	rm -rf $(VENV)
