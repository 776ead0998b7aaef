# Two commands do everything on a fresh machine with Python 3.11 and pip:
#   make book    install, execute every notebook (PROFILE=cpu by default) and build the HTML book
#   make test    install, run the unit tests and every notebook at its defaults (pytest --nbval-lax)
PYTHON  ?= $(shell command -v python3.11 || command -v python3)
VENV    ?= .venv
PROFILE ?= cpu
BIN     := $(VENV)/bin
# the offline datasets of this workplace when present, else data/ (see data/README.md)
export AUX_CORE_DATA ?= $(abspath $(firstword $(wildcard ../shared/data) data))

.PHONY: book test notebooks benchmark clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $@

book: $(VENV)/.installed
	$(BIN)/python -m aux_core.book --profile $(PROFILE)

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
