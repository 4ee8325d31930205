# The two commands of README.md. Both do all the set-up on a fresh Debian machine.
.PHONY: suite test check lint

# Run the conformance suite against the current kube context, or against podshm's
# own local cluster when there is none (built and started on first use).
suite:
	bash scripts/bootstrap.sh
	.venv/bin/podshm run --start-cluster $(ARGS)

# Run the project's own tests: lint, unit, host IPC, image, plugin (pytester), the
# local cluster's integration tests and the whole suite against that real cluster.
test:
	bash scripts/test.sh

# What CI's lint stage runs: lint, format and types.
lint:
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .
	.venv/bin/mypy

# Fast feedback, no cluster: lint, format and type checks, then unit tests, host IPC, image
# parts and the plugin's option tests (about two minutes warm; needs `make test` or
# scripts/bootstrap.sh once for .venv). The VM boot (-m vm, tests/host/test_vm.py) runs in
# `make test` only.
check: lint
	.venv/bin/pytest tests/unit tests/host tests/plugin/test_options_markers.py \
		--deselect tests/host/test_image.py -m "not cluster and not vm" -q -p no:cacheprovider
