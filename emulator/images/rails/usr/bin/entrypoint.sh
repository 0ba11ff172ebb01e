#!/bin/sh
# The Rails image's entrypoint, as in most Rails Dockerfiles: prepare, then run the command.
set -e
rm -f tmp/pids/server.pid 2>/dev/null || true
exec "$@"
