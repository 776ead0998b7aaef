# Two commands do everything on a fresh machine with Python 3.11 and pip:
#   make book    install, execute every notebook from the committed results store (training nothing) and
#                build the HTML book: each page at the largest profile the store holds complete for it
#   make test    install, run the unit tests and every notebook at its defaults (pytest --nbval-lax)
# and one that computes:
#   make book-execute PROFILE=cpu [PUBLISH=1]   re-execute every notebook at a profile, training what the
#                store and the local cache lack (hours at cpu); PUBLISH=1 adds what it trains to the store
PYTHON  ?= $(shell command -v python3.11 || command -v python3)
VENV    ?= .venv
PROFILE ?= cpu
BIN     := $(VENV)/bin
# the offline datasets of this workplace when present, else data/ (see data/README.md)
export AUX_CORE_DATA ?= $(abspath $(firstword $(wildcard ../shared/data) data))

.PHONY: book book-execute test notebooks benchmark store-summary clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $@

book: $(VENV)/.installed
	$(BIN)/python -m aux_core.book

book-execute: $(VENV)/.installed
	$(BIN)/python -m aux_core.book --execute --profile $(PROFILE) $(if $(PUBLISH),--publish)

store-summary: $(VENV)/.installed
	$(BIN)/python -m aux_core.store summary

test: $(VENV)/.installed
	$(BIN)/python -m pytest

# re-execute the notebooks in place at their defaults (smoke), refreshing the outputs nbval compares
notebooks: $(VENV)/.installed
	for nb in $$(find notebooks -name '*.ipynb' -not -path '*/.ipynb_checkpoints/*'); do \
	  (cd $$(dirname $$nb) && $(abspath $(BIN))/papermill --no-progress-bar $$(basename $$nb) $$(basename $$nb)) || exit 1; \
	done

benchmark: $(VENV)/.installed
	$(BIN)/python benchmarks/train_speed.py

clean:
	rm -rf book/_build book/chapters
