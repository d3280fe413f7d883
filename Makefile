# The README's commands. Each installs what it needs first (scripts/bootstrap.sh is a no-op
# when .venv is already up to date).
VENV := .venv

.PHONY: setup run test bench bench-kafka bench-flink bench-flink-soak bench-memory clean

setup:
	scripts/bootstrap.sh

# The main job: a batch run over seeds/ on the local runner, Avro files under out/.
run: setup
	$(VENV)/bin/newswire run --job_config config/jobs/seeds-to-avro.yaml --runner_config deploy/local/runner.yaml

# Lint, then the tests. pytest exits 5 when it collected no test; like any non-zero exit,
# that fails the target.
test: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/python -m pytest

bench: setup
	$(VENV)/bin/newswire bench

# Streaming throughput and latency against the local broker (deploy/local/kafka.sh).
bench-kafka: setup
	$(VENV)/bin/newswire bench --kafka

# The batch job on Flink's embedded cluster against the local runner and raw spaCy, and the
# streaming job on a backlog on Flink against Prism (needs the local broker).
bench-flink: setup
	$(VENV)/bin/newswire bench --flink

# The streaming job on Flink's embedded cluster for 30 minutes (MINUTES=...), 2 s checkpoints.
MINUTES ?= 30
bench-flink-soak: setup
	$(VENV)/bin/newswire bench --flink-soak --minutes $(MINUTES)

# Peak memory of a batch run over a 2 GiB generated file against a 20 MiB one (about 25 minutes).
bench-memory: setup
	$(VENV)/bin/newswire bench --memory

clean:
	rm -rf out/ .pytest_cache/
