# swiftpipe's set-up, tests and the tutorials' stages.
#   make install            .venv with swiftpipe + ms-swift 3.12 (the tutorials' major); idempotent
#   make install SWIFT=4    .venv-swift4 with the current ms-swift 4.x
#   make eval-venv [SWIFT=4] .venv-eval (.venv-swift4-eval): ms-swift with EvalScope, for evaluate() stages
#   make test [SWIFT=4]     the layers contract (lint-imports), fast tests and the real-ms-swift tests
#   make test-fast [SWIFT=4] the fast tier alone: no root, no real ms-swift, no Slurm, no browser (minutes)
#   make demo               the whole chain on a tiny local model, on the CPU (builds the model on first use)
#   make reasoning          SFT, then GRPO, reward model -> PPO, KTO and ORPO on the same tiny model, on the CPU
#   make pretrain|sft|merge|dpo|infer [RECIPE=recipes/medical.py]   one stage of a recipe
#   make data               fetch and check what recipes/medical.py reads (base model, the tutorials' datasets)
#   make golden             rewrite tests/golden/ after an intended change to a recipe or template
#   make bench              bench/: swiftpipe's own overhead, as ratios against a baseline
#   make bench-slurm        the same for --launcher slurm, on a local one-node cluster (root: installs Slurm)

SWIFT ?= 3
ifeq ($(SWIFT),3)
VENV ?= .venv
SWIFT_SPEC ?= ms-swift==3.12.*
EVAL_SPEC ?= ms-swift[eval]==3.12.*
else ifeq ($(SWIFT),4)
VENV ?= .venv-swift4
SWIFT_SPEC ?= ms-swift==4.*
EVAL_SPEC ?= ms-swift[eval]==4.*
else
$(error SWIFT must be 3 or 4, not $(SWIFT))
endif

PYTHON ?= python3
PY := $(VENV)/bin/python
STAMP := $(VENV)/.swiftpipe-installed
# Without a GPU, install the CPU build of torch first (ms-swift then keeps it); with one, ms-swift's own
# torch requirement brings the CUDA build. Override with e.g. `make install TORCH=torch==2.9.1`.
HAVE_GPU := $(shell nvidia-smi -L >/dev/null 2>&1 && echo yes)
TORCH ?= $(if $(HAVE_GPU),,torch==2.13.0)
PIP := $(PY) -m pip --disable-pip-version-check -q
# uv installs what pip would, several times faster (in parallel, from one cache that every venv hard-links from: the
# second major's venv and the eval venvs cost seconds). uv reads no pip configuration: a pip find-links folder (where a
# machine keeps its torch wheels) is handed to it.
UV = $(1)/bin/uv pip install -q --python $(1)/bin/python $(if $(PIP_FIND_LINKS),--find-links $(PIP_FIND_LINKS))
# The .pyc files are written as Python first imports each module, not all compiled up front (pip's way, uv's
# --compile-bytecode: a minute a venv on two cores, for 3 GB of packages of which a stage imports a small part). So
# make's commands let Python write them where PYTHONDONTWRITEBYTECODE is set (else every `swift` would compile torch
# and transformers again as it starts), and `make install` writes those of ms-swift's training stack once
# (`swift sft --help`) for the swift and swiftpipe run outside make.
unexport PYTHONDONTWRITEBYTECODE

RECIPE ?= recipes/medical.py
TINY_MODEL := work/tiny-qwen2-swift$(SWIFT)
SAMPLES := $(wildcard datasets/*.jsonl)

.PHONY: install eval-venv test test-fast check golden bench bench-slurm render demo reasoning data pretrain sft merge dpo merge_dpo infer clean
install: $(STAMP)

$(STAMP): pyproject.toml Makefile
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install uv
	$(call UV,$(VENV)) $(TORCH) -e ".[test]" "$(SWIFT_SPEC)"
	$(VENV)/bin/swift sft --help >/dev/null
	@touch $@
	@$(PY) -c "import importlib.metadata as m; print('installed: swiftpipe', m.version('swiftpipe'), '| ms-swift', m.version('ms-swift'), '| torch', m.version('torch'))"

# pytest-xdist, JOBS workers (auto: one a core; 0: none); `--dist loadgroup` (pyproject) keeps the tests that share
# a module's fixture on one worker. The fast tier leaves out the markers that need more than a user and the fake swift.
JOBS ?= auto
FAST_TIER := not e2e and not slurm and not browser and not root
# The fast tier waits on its subprocesses (signals, polls) a quarter of the time: one worker more than the cores fills
# that (on two cores, 3 workers: 3:00-3:20; 2 workers: 3:55-4:20). The e2e tier is CPU-bound: `make test` keeps JOBS.
FAST_JOBS ?= $(shell echo $$(( $$(nproc) + 1 )))

# --durations: the slowest tests in CI's log, where the time budget is spent.
test: install eval-venv check
	$(PY) -m pytest -n $(JOBS) --durations=25

test-fast: install
	$(PY) -m pytest -n $(FAST_JOBS) -m "$(FAST_TIER)"

# The static checks: the layers contract, lint and types.
check: install
	$(VENV)/bin/lint-imports
	$(VENV)/bin/ruff check
	$(VENV)/bin/mypy

# `swift eval` with EvalScope, in a venv of its own: EvalScope's OpenCompass backend (ms-opencompass), which ms-swift
# imports even for the Native backend, needs numpy<2, and the training venv's stack has numpy 2. The pins, each
# for a reason found here: evalscope<1.11 (1.11 dropped the EvalType.SERVICE that ms-swift 3.12 and 4.6 call);
# pyarrow<21 (the last built for numpy 1); setuptools<81 (mmengine imports pkg_resources). Without a GPU,
# torchvision goes: PyPI's is built for the CUDA torch, and beside the CPU one its operators fail to load
# (`operator torchvision::nms does not exist`); text benchmarks never use it.
EVAL_VENV := $(VENV)-eval
EVAL_PIP := $(EVAL_VENV)/bin/python -m pip --disable-pip-version-check -q
EVAL_STAMP := $(EVAL_VENV)/.swiftpipe-installed
eval-venv: $(EVAL_STAMP)

$(EVAL_STAMP): Makefile
	@test -x $(EVAL_VENV)/bin/python || $(PYTHON) -m venv $(EVAL_VENV)
	$(EVAL_PIP) install uv
	printf '%s\n' "numpy<2" "evalscope<1.11" "pyarrow<21" "setuptools<81" $(TORCH) > $(EVAL_VENV)/constraints.txt
	$(call UV,$(EVAL_VENV)) $(TORCH) "$(EVAL_SPEC)" -c $(EVAL_VENV)/constraints.txt
	$(if $(TORCH),$(EVAL_VENV)/bin/uv pip uninstall -q --python $(EVAL_VENV)/bin/python torchvision)
	@touch $@
	@$(EVAL_VENV)/bin/python -c "import importlib.metadata as m; print('eval venv: ms-swift', m.version('ms-swift'), '| evalscope', m.version('evalscope'), '| numpy', m.version('numpy'))"

# The tiny Qwen2 model, built once per ms-swift major (transformers 4 or 5) from the sample text.
$(TINY_MODEL)/config.json: $(STAMP) $(SAMPLES) swiftpipe/demo/tiny_model.py
	$(PY) -m swiftpipe.demo.tiny_model $(TINY_MODEL) $(SAMPLES)

demo: $(TINY_MODEL)/config.json
	$(VENV)/bin/swiftpipe run recipes/demo.py -p model=$(TINY_MODEL) -p output=work/demo-swift$(SWIFT)

reasoning: $(TINY_MODEL)/config.json
	$(VENV)/bin/swiftpipe run recipes/reasoning.py -p model=$(TINY_MODEL) -p output=work/reasoning-swift$(SWIFT)

pretrain sft merge dpo merge_dpo infer: install
	$(VENV)/bin/swiftpipe run $(RECIPE) --stage $@

# What recipes/medical.py reads by default, from the hubs the tutorials name (seed 000: shibing624/medical on the
# Hugging Face Hub; seed 004: Qwen2.5 and the QiZhen set on ModelScope). Each file is fetched once (the hubs'
# caches, hard-linked under $(DATA)), then validated for the stage that reads it.
DATA ?= data
BASE_MODEL ?= Qwen/Qwen2.5-1.5B
SWIFTPIPE ?= $(VENV)/bin/swiftpipe
DATA_NEEDS ?= install
REWARD_COLUMNS := '{"response_chosen": "response", "response_rejected": "rejected_response"}'

data: $(DATA)/pre/medical_book_zh.json $(DATA)/qizen-gpt-sample-sft-20k/qizhen-gpt-sft-20k.json $(DATA)/reward/train.json
	$(SWIFTPIPE) download model $(BASE_MODEL)
	$(SWIFTPIPE) data validate $(DATA)/pre/medical_book_zh.json --kind pt
	$(SWIFTPIPE) data validate $(DATA)/qizen-gpt-sample-sft-20k/qizhen-gpt-sft-20k.json --kind sft
	$(SWIFTPIPE) data validate $(DATA)/reward/train.json --kind dpo --columns $(REWARD_COLUMNS)

$(DATA)/pre/medical_book_zh.json: | $(DATA_NEEDS)
	$(SWIFTPIPE) download dataset shibing624/medical --file pretrain/medical_book_zh.json --hub hf --to $(@D)

$(DATA)/reward/train.json: | $(DATA_NEEDS)
	$(SWIFTPIPE) download dataset shibing624/medical --file reward/train.json --hub hf --to $(@D)

$(DATA)/qizen-gpt-sample-sft-20k/qizhen-gpt-sft-20k.json: | $(DATA_NEEDS)
	$(SWIFTPIPE) download dataset xiaofengalg/qizen-gpt-sample-sft-20k --hub modelscope --to $(@D)

golden: install
	$(PY) -m pytest tests/test_golden.py tests/test_slurm.py -k golden --update-golden -q

bench: $(TINY_MODEL)/config.json
	$(PY) bench/render_overhead.py
	$(PY) bench/run_overhead.py --model $(TINY_MODEL)
	$(PY) bench/validate_throughput.py
	$(PY) bench/validate_scale.py
	$(PY) bench/report_scale.py
	$(PY) bench/history_scale.py
	$(PY) bench/import_speed.py
	$(PY) bench/identity_cost.py
	$(PY) bench/sweep_plan.py
	$(PY) bench/packing.py

bench-slurm: $(TINY_MODEL)/config.json
	$(PY) bench/slurm_overhead.py --model $(TINY_MODEL)

render: install
	$(VENV)/bin/swiftpipe render $(RECIPE)

clean:
	rm -rf .venv .venv-swift4 .pytest_cache .hypothesis build dist
