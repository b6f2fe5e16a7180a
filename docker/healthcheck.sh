#!/bin/sh
# The image's HEALTHCHECK: GET /health on the address the server listens on,
# taken from TSVAULT_HTTP_BIND_ADDRESS (set the address through that variable,
# not the flag, for the check to follow it). An all-interfaces address is
# checked on loopback.
addr=${TSVAULT_HTTP_BIND_ADDRESS:-:8086}
port=${addr##*:}
host=${addr%:*}
case $host in
'' | 0.0.0.0 | '[::]') host=127.0.0.1 ;;
esac
exec curl -fsS --max-time 2 -o /dev/null "http://$host:$port/health"
