# Two commands do all set-up on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint bench screenshot train-default clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test,bench,cluster]"
	touch $(STAMP)

# Qt's window on X needs system libraries pip cannot install: check (and install them where
# apt-get and root or passwordless sudo allow) before the long pip install, not after it.
run:
	@sh .ci/qt_libs.sh
	@$(MAKE) --no-print-directory $(STAMP)
	$(BIN)/python main.py

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	$(BIN)/mypy
	QT_QPA_PLATFORM=offscreen $(BIN)/python -m pytest -n 2 --dist loadfile --no-loadscope-reorder

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

bench: $(STAMP)
	for b in ascent_speed atlas_speed preset_speed stream_overhead explain_speed scan_speed \
		vs_tf_keras_vis startup precision_speed microscope_speed; do \
		QT_QPA_PLATFORM=offscreen $(BIN)/python benchmarks/$$b.py || exit 1; done

screenshot: $(STAMP)
	QT_QPA_PLATFORM=offscreen $(BIN)/python main.py --screenshot resources/screenshot.png --layer conv3 --filter 2 --preset lucid

train-default: $(STAMP)
	$(BIN)/python main.py train-default --mnist ../shared/data/mnist

clean:
	rm -rf $(VENV) build *.egg-info
