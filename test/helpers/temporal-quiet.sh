#!/bin/sh
# The tests' dev server (harness.ts): the Temporal CLI at $TEMPORAL_CLI with the same arguments
# and process id, its start-up banner (stdout) kept out of the test output; errors still go to stderr.
exec "$TEMPORAL_CLI" "$@" >/dev/null
