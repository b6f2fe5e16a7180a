#!/bin/bash
# HTTPS (docs/operations.md "TLS"), with certificates made by openssl here:
#  - the start-up log names the certificate in use; openssl s_client: TLS 1.2
#    and 1.3 handshakes verify against the test CA, TLS 1.0/1.1 are refused
#    (and accepted by a server started with --tls-min-version 1.0, so the
#    refusal is the server's), --tls-min-version 1.3 refuses 1.2, plain HTTP
#    to the TLS port gets no answer;
#  - --tls-strict-ciphers (set through the environment with the certificate)
#    refuses a non-ECDHE and a CBC cipher that the default server accepts;
#  - round trips over HTTPS: curl (--cacert to restore the fixture, -k to back
#    it up, byte-compared), the influx CLI stand-in (backup with
#    --skip-verify, full restore and backup with SSL_CERT_FILE, compared),
#    tsvault's own --host client (remote/influx_client) and InfluxData's JS
#    client (NODE_EXTRA_CA_CERTS); each client without the CA is refused;
#  - SIGHUP serves a new certificate to new connections; a bad or mismatched
#    new file keeps the old one and logs why; SIGHUP without TLS is harmless;
#  - bad certificate files and flags stop the server with a message naming
#    the file.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/fixture.sh"
HERE=$(cd "$(dirname "$0")" && pwd)
CLI="python3 $HERE/influxcli.py"
P="$TSV_TMP/pki"
W="$TSV_TMP/work"
mkdir -p "$P" "$W"
unset CURL_CA_BUNDLE SSL_CERT_FILE NODE_EXTRA_CA_CERTS TSVAULT_TLS_CERT TSVAULT_TLS_KEY \
    TSVAULT_TLS_MIN_VERSION TSVAULT_TLS_STRICT_CIPHERS
CA="$P/ca.pem"

# ---- certificates ------------------------------------------------------------
q() { "$@" >"$P/openssl.out" 2>&1 || { cat "$P/openssl.out"; fail "$*"; }; }
q openssl req -x509 -newkey rsa:2048 -nodes -keyout "$P/ca.key" -out "$CA" -days 3 \
    -subj "/CN=tsvault test CA"
cat >"$P/ext.cnf" <<'EOF'
subjectAltName = IP:127.0.0.1, DNS:localhost
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
EOF
csr() { q openssl req -newkey rsa:2048 -nodes -keyout "$P/$1.key" -out "$P/$1.csr" -subj "/CN=$2"; }
mkcert() { # NAME CN: a server certificate signed by the test CA, valid 3 days
    csr "$1" "$2"
    q openssl x509 -req -in "$P/$1.csr" -CA "$CA" -CAkey "$P/ca.key" -CAcreateserial -days 3 \
        -extfile "$P/ext.cnf" -out "$P/$1.pem"
}
mkcert one tsvault-test-one
mkcert two tsvault-test-two
# Validity periods in the past and in the future need `openssl ca`.
mkdir -p "$P/newcerts"
: >"$P/index.txt"
echo 1000 >"$P/serial"
cat >"$P/ca.cnf" <<EOF
[ca]
default_ca = tca
[tca]
database = $P/index.txt
new_certs_dir = $P/newcerts
serial = $P/serial
default_md = sha256
policy = anything
unique_subject = no
[anything]
commonName = supplied
EOF
dated() { # NAME CN START END
    csr "$1" "$2"
    q openssl ca -batch -notext -config "$P/ca.cnf" -cert "$CA" -keyfile "$P/ca.key" \
        -in "$P/$1.csr" -out "$P/$1.pem" -startdate "$3" -enddate "$4"
}
dated expired tsvault-expired 20200101000000Z 20200102000000Z
dated future tsvault-future 20990101000000Z 20990102000000Z
q openssl pkey -in "$P/one.key" -aes256 -passout pass:secret -out "$P/encrypted.key"
cat "$P/one.pem" "$P/one.key" >"$P/combined.pem"
echo "this is not a certificate" >"$P/garbage.pem"
pass "openssl made a CA, two server certificates, an expired and a not-yet-valid one"

# tls_start NAME [flags]: tsv_start with the certificate one; NAME_URL is https.
tls_start() {
    local n=$1
    shift
    tsv_start "$n" "$@"
    eval "${n}_URL=\${${n}_URL/http:/https:}"
    eval "${n}_PORT=\${${n}_URL##*:}"
}

# hs PORT [s_client args]: one handshake, verified against the CA; HS_OUT is
# the output; returns s_client's exit status.
hs() {
    local port=$1
    shift
    local rc=0
    HS_OUT=$(timeout 20 openssl s_client -connect "127.0.0.1:$port" -servername localhost \
        -CAfile "$CA" -verify_return_error "$@" </dev/null 2>&1) || rc=$?
    return $rc
}
hs_ok() { # LABEL PORT VERSION-REGEX [args]
    local label=$1 port=$2 re=$3
    shift 3
    hs "$port" "$@" || fail "$label: handshake failed: $(echo "$HS_OUT" | tail -n 15)"
    # ("New, <v>" names the cipher's version for TLS 1.2 suites, hence Protocol.)
    echo "$HS_OUT" | grep -E -q "^ *Protocol *: $re\$|^New, $re, Cipher is" ||
        fail "$label: expected $re, got: $(echo "$HS_OUT" | grep -E '^New,|Protocol')"
    echo "$HS_OUT" | grep -q "Verify return code: 0 (ok)" || fail "$label: certificate not verified"
    HS_CIPHER=$(echo "$HS_OUT" | sed -n 's/^New, .*, Cipher is //p' | head -n 1)
}
hs_refused() { # LABEL PORT [args]
    local label=$1 port=$2
    shift 2
    local rc=0
    hs "$port" "$@" || rc=$?
    if [ "$rc" = 0 ] || echo "$HS_OUT" | grep -E '^New, ' | grep -v -q 'NONE'; then
        fail "$label: the handshake succeeded: $(echo "$HS_OUT" | grep -E '^New,|Protocol')"
    fi
}
subject_of() { # PORT: the subject the server presents now
    timeout 20 openssl s_client -connect "127.0.0.1:$1" -servername localhost </dev/null 2>/dev/null |
        openssl x509 -noout -subject -nameopt RFC2253 | sed 's/^subject=//'
}

# ---- a: the default server ----------------------------------------------------
tls_start a --tls-cert "$P/one.pem" --tls-key "$P/one.key"
grep -q 'msg=listening .*scheme=https' "$a_LOG" || fail "listening line lacks scheme=https"
grep -E -q "msg=\"TLS certificate in use\" cert_file=\"$P/one.pem\" key_file=\"$P/one.key\" subject=\"CN=tsvault-test-one\" issuer=\"CN=tsvault test CA\" not_before=[0-9T:Z-]+ not_after=[0-9T:Z-]+ expires_in_days=[0-9]+ key=RSA-2048 sha256=[0-9A-F:]{95}" "$a_LOG" ||
    fail "start-up log: $(grep 'TLS' "$a_LOG")"
pass "start-up log names the certificate: $(grep -o 'subject="[^"]*" issuer="[^"]*" not_before=[^ ]* not_after=[^ ]*' "$a_LOG")"

hs_ok "TLS 1.2" "$a_PORT" TLSv1.2 -tls1_2
pass "TLS 1.2 handshake, certificate verified ($HS_CIPHER)"
hs_ok "TLS 1.3" "$a_PORT" TLSv1.3 -tls1_3
pass "TLS 1.3 handshake, certificate verified ($HS_CIPHER)"
# The client side allows the old versions (security level 0) so that only
# the server's rule can refuse them.
hs_refused "TLS 1.0" "$a_PORT" -tls1 -cipher 'DEFAULT:@SECLEVEL=0'
hs_refused "TLS 1.1" "$a_PORT" -tls1_1 -cipher 'DEFAULT:@SECLEVEL=0'
pass "TLS 1.0 and 1.1 handshakes refused (default --tls-min-version 1.2)"
hs_ok "non-strict server, AES128-SHA" "$a_PORT" TLSv1.2 -tls1_2 -cipher AES128-SHA
hs_ok "non-strict server, ECDHE-RSA-AES128-SHA256" "$a_PORT" TLSv1.2 -tls1_2 -cipher ECDHE-RSA-AES128-SHA256
pass "without --tls-strict-ciphers, TLS 1.2 with AES128-SHA and ECDHE-RSA-AES128-SHA256 is accepted"

rc=0
curl -sS -m 10 -o "$W/plain.out" "http://127.0.0.1:$a_PORT/health" 2>"$W/plain.err" || rc=$?
[ "$rc" -ne 0 ] || fail "plain HTTP to the TLS port answered: $(cat "$W/plain.out")"
http GET "$a_URL/health" --cacert "$CA"
expect_status 200 "HTTPS after a plain-HTTP attempt"
pass "plain HTTP to the TLS port fails (curl exit $rc: $(head -c 80 "$W/plain.err")); HTTPS still served"

# ---- b: --tls-min-version 1.0 / d: 1.3 ------------------------------------------
tls_start b --tls-cert "$P/one.pem" --tls-key "$P/one.key" --tls-min-version 1.0
hs_ok "min 1.0: TLS 1.0" "$b_PORT" TLSv1 -tls1 -cipher 'DEFAULT:@SECLEVEL=0'
hs_ok "min 1.0: TLS 1.1" "$b_PORT" TLSv1.1 -tls1_1 -cipher 'DEFAULT:@SECLEVEL=0'
grep -q 'TLS minimum version 1.0 is discouraged' "$b_LOG" || fail "no warning for 1.0"
tsv_stop b
pass "the same TLS 1.0/1.1 clients get through with --tls-min-version 1.0 (logged as discouraged)"
tls_start d --tls-cert "$P/one.pem" --tls-key "$P/one.key" --tls-min-version 1.3
hs_refused "min 1.3: TLS 1.2" "$d_PORT" -tls1_2
hs_ok "min 1.3: TLS 1.3" "$d_PORT" TLSv1.3 -tls1_3
tsv_stop d
pass "--tls-min-version 1.3 refuses TLS 1.2"

# ---- c: strict ciphers, certificate from the environment ------------------------
export TSVAULT_TLS_CERT="$P/combined.pem" TSVAULT_TLS_KEY="$P/combined.pem" TSVAULT_TLS_STRICT_CIPHERS=true
tls_start c
unset TSVAULT_TLS_CERT TSVAULT_TLS_KEY TSVAULT_TLS_STRICT_CIPHERS
grep -q 'msg="TLS configured" min_version=1.2 strict_ciphers=true' "$c_LOG" || fail "strict not logged"
hs_refused "strict: AES128-SHA" "$c_PORT" -tls1_2 -cipher AES128-SHA
hs_refused "strict: AES256-GCM-SHA384 (no ECDHE)" "$c_PORT" -tls1_2 -cipher AES256-GCM-SHA384
hs_refused "strict: ECDHE-RSA-AES128-SHA256 (CBC)" "$c_PORT" -tls1_2 -cipher ECDHE-RSA-AES128-SHA256
for cph in ECDHE-RSA-AES128-GCM-SHA256 ECDHE-RSA-AES256-GCM-SHA384 ECDHE-RSA-CHACHA20-POLY1305; do
    hs_ok "strict: $cph" "$c_PORT" TLSv1.2 -tls1_2 -cipher "$cph"
    [ "$HS_CIPHER" = "$cph" ] || fail "strict: asked $cph, got $HS_CIPHER"
done
hs_ok "strict: TLS 1.3" "$c_PORT" TLSv1.3 -tls1_3
pass "--tls-strict-ciphers (env, cert+key in one PEM): AES128-SHA, AES256-GCM-SHA384 and ECDHE-RSA-AES128-SHA256 refused; ECDHE AES-GCM/ChaCha20 and TLS 1.3 accepted"

# ---- curl round trip on a ---------------------------------------------------------
fixture_prepare "$W"
# Onboarded, so that the KV holds an operator token (a full restore needs one).
http POST "$a_URL/api/v2/setup" --cacert "$CA" -H 'Content-Type: application/json' \
    -d '{"username":"ada","password":"correct-horse","org":"acme","bucket":"metrics","retentionPeriodSeconds":0}'
expect_status 201 "setup over HTTPS"
rc=0
curl -sS -o /dev/null "$a_URL/health" 2>"$W/nocert.err" || rc=$?
[ "$rc" = 60 ] || fail "curl without the CA: expected exit 60, got $rc: $(cat "$W/nocert.err")"
pass "curl without the CA refuses the certificate ($(head -c 70 "$W/nocert.err"))"
http POST "$a_URL/api/v2/orgs" --cacert "$CA" -H "$(auth)" -H 'Content-Type: application/json' \
    -d '{"name":"fixture-org"}'
expect_status 201 "create org over HTTPS"
ORG=$(json_get 'j["id"]')
declare -A NEWID RPOF
for rp in autogen daily; do
    fixture_manifest "$W" "$rp" "$ORG" >"$W/m-$rp.json"
    http POST "$a_URL/api/v2/restore/bucketMetadata" --cacert "$CA" -H "$(auth)" \
        -H 'Content-Type: application/json' --data-binary "@$W/m-$rp.json"
    expect_status 201 "bucketMetadata $rp"
    while read -r old new; do NEWID[$old]=$new RPOF[$old]=$rp; done < <(json_get \
        "'\\n'.join('%d %d' % (m['oldId'], m['newId']) for m in j['shardMappings'])")
done
for old in 1 2 3 4 5; do
    http POST "$a_URL/api/v2/restore/shards/${NEWID[$old]}" --cacert "$CA" -H "$(auth)" \
        -H 'Content-Type: application/octet-stream' -H 'Content-Encoding: gzip' \
        --data-binary "@$W/s$old.tar.gz"
    expect_status 204 "restore shard $old over HTTPS"
done
n=0
for old in 1 2 3 4 5; do
    new=${NEWID[$old]}
    rm -rf "$W/got"
    mkdir -p "$W/got"
    curl -sS -f -k -H "$(auth)" -H 'Accept-Encoding: gzip' "$a_URL/api/v2/backup/shards/$new" |
        gzip -dc | tar x -C "$W/got" || fail "backup of shard $new over HTTPS (-k)"
    for f in "$W/x/fixture/${RPOF[$old]}/$old"/*; do
        cmp "$f" "$W/got"/*/"${RPOF[$old]}/$new/$(basename "$f")" || fail "shard $old: $(basename "$f") differs"
        n=$((n + 1))
    done
done
pass "curl: fixture restored with --cacert, 5 shards backed up with -k, $n files byte-identical"

# ---- tsvault's own client (remote/influx_client) --------------------------------
stats() { "$TSVAULT_BIN" stats --host "$a_URL" --token "$TSV_TOKEN" --org fixture-org \
    --bucket fixture_autogen "$@"; }
stats --ca-file "$CA" >"$W/stats1.json" 2>"$W/stats.err" || fail "stats --ca-file: $(cat "$W/stats.err")"
python3 -c 'import json,sys; json.load(open(sys.argv[1]))' "$W/stats1.json" || fail "stats output"
SSL_CERT_FILE="$CA" stats >"$W/stats2.json" 2>"$W/stats.err" || fail "stats with SSL_CERT_FILE: $(cat "$W/stats.err")"
stats --skip-verify >"$W/stats3.json" 2>"$W/stats.err" || fail "stats --skip-verify: $(cat "$W/stats.err")"
cmp "$W/stats1.json" "$W/stats2.json" && cmp "$W/stats1.json" "$W/stats3.json" || fail "stats differ"
rc=0
stats >/dev/null 2>"$W/stats.err" || rc=$?
[ "$rc" -ne 0 ] && grep -q -i 'certificate' "$W/stats.err" || fail "stats without the CA: rc=$rc $(cat "$W/stats.err")"
pass "tsvault stats --host https://: --ca-file, SSL_CERT_FILE and --skip-verify work; without the CA: $(head -c 120 "$W/stats.err")"

# ---- the influx CLI stand-in: a -> e ------------------------------------------------
rc=0
$CLI backup "$a_URL" "$TSV_TOKEN" "$W/bk-fail" >/dev/null 2>"$W/cli.err" || rc=$?
[ "$rc" = 1 ] && grep -q CERTIFICATE_VERIFY_FAILED "$W/cli.err" || fail "CLI without the CA: rc=$rc $(cat "$W/cli.err")"
$CLI backup "$a_URL" "$TSV_TOKEN" "$W/bk" --skip-verify >"$W/bk.out" 2>"$W/cli.err" || fail "CLI backup --skip-verify: $(cat "$W/cli.err")"
tls_start e --tls-cert "$P/two.pem" --tls-key "$P/two.key"
SSL_CERT_FILE="$CA" $CLI restore "$e_URL" "$TSV_TOKEN" "$W/bk" --full --seed 1 >"$W/re.json" 2>"$W/cli.err" ||
    fail "CLI full restore with SSL_CERT_FILE: $(cat "$W/cli.err")"
SSL_CERT_FILE="$CA" $CLI backup "$e_URL" "$TSV_TOKEN" "$W/bk2" >"$W/bk2.out" 2>"$W/cli.err" ||
    fail "CLI backup with SSL_CERT_FILE: $(cat "$W/cli.err")"
python3 - "$W/bk" "$W/bk2" <<'PY' || fail "the backups of a and e differ"
import glob, gzip, io, os, re, sys, tarfile
def shards(d):
    out = {}
    for p in glob.glob(os.path.join(d, "*.tar.gz")):
        sid = re.search(r"\.(\d+)\.tar\.gz$", p).group(1)
        with tarfile.open(fileobj=io.BytesIO(gzip.decompress(open(p, "rb").read()))) as t:
            out[sid] = {m.name: t.extractfile(m).read() for m in t.getmembers() if m.isfile()}
    return out
a, e = shards(sys.argv[1]), shards(sys.argv[2])
assert len(a) == 5 and a == e, (sorted(a), sorted(e))
print("ok - CLI stand-in: 5 shards (%d files) identical after backup -> full restore -> backup" %
      sum(len(v) for v in a.values()))
PY
tsv_stop e
pass "influx CLI stand-in over HTTPS: backup --skip-verify, full restore + backup with SSL_CERT_FILE; without either it fails ($(grep -o 'CERTIFICATE_VERIFY_FAILED[^]]*' "$W/cli.err" | head -1))"

# ---- the JS client on c (strict ciphers) -------------------------------------------
command -v node >/dev/null || fail "node is missing (scripts/install-deps.sh)"
[ -d "$HERE/node_modules/@influxdata/influxdb-client-apis" ] ||
    fail "JS client missing: cd tests/integration && npm ci --no-audit --no-fund"
NODE_EXTRA_CA_CERTS="$CA" node "$HERE/tls_js_client.mjs" roundtrip "$c_URL" "$TSV_TOKEN" "$W" ||
    fail "JS client round trip over HTTPS"
node "$HERE/tls_js_client.mjs" insecure "$c_URL" || fail "JS client with rejectUnauthorized: false"
node "$HERE/tls_js_client.mjs" reject "$c_URL" || fail "JS client without the CA"
tsv_stop c

# ---- SIGHUP reload on r ----------------------------------------------------------------
cp "$P/one.pem" "$P/live.pem"
cp "$P/one.key" "$P/live.key"
tls_start r --tls-cert "$P/live.pem" --tls-key "$P/live.key"
[ "$(subject_of "$r_PORT")" = "CN=tsvault-test-one" ] || fail "r serves $(subject_of "$r_PORT")"
wait_log() { # LOG REGEX COUNT: until the log has COUNT lines matching REGEX
    local i=0
    while [ "$(grep -E -c "$2" "$1" || true)" -lt "$3" ]; do
        [ $i -lt 100 ] || fail "log never showed /$2/ $3 times: $(tail -n 5 "$1")"
        sleep 0.1
        i=$((i + 1))
    done
}
replace() { cp "$1" "$2.tmp" && mv "$2.tmp" "$2"; } # what an ACME client does
replace "$P/two.pem" "$P/live.pem"
replace "$P/two.key" "$P/live.key"
kill -HUP "$r_PID"
wait_log "$r_LOG" 'msg="TLS certificate reloaded; new connections use it"' 1
grep -E -q 'msg="TLS certificate reloaded; new connections use it" .*subject="CN=tsvault-test-two" .*not_after=[0-9]{4}-' "$r_LOG" ||
    fail "reload log: $(grep reloaded "$r_LOG")"
[ "$(subject_of "$r_PORT")" = "CN=tsvault-test-two" ] || fail "after SIGHUP r serves $(subject_of "$r_PORT")"
hs_ok "after reload" "$r_PORT" TLSv1.3
pass "SIGHUP: new connections get CN=tsvault-test-two (logged with its expiry)"

replace "$P/garbage.pem" "$P/live.pem"
kill -HUP "$r_PID"
wait_log "$r_LOG" 'msg="TLS reload failed; the certificate in use stays"' 1
grep -q "TLS reload failed.*$P/live.pem: no PEM certificate" "$r_LOG" || fail "reload error: $(grep 'reload failed' "$r_LOG")"
[ "$(subject_of "$r_PORT")" = "CN=tsvault-test-two" ] || fail "after a bad reload r serves $(subject_of "$r_PORT")"
replace "$P/one.pem" "$P/live.pem" # new certificate, key still two's: mismatched
kill -HUP "$r_PID"
wait_log "$r_LOG" 'msg="TLS reload failed; the certificate in use stays"' 2
grep -q "TLS reload failed.*$P/live.key does not match the certificate in $P/live.pem" "$r_LOG" ||
    fail "mismatch reload error: $(grep 'reload failed' "$r_LOG" | tail -n 1)"
[ "$(subject_of "$r_PORT")" = "CN=tsvault-test-two" ] || fail "after a mismatched reload r serves $(subject_of "$r_PORT")"
http GET "$r_URL/health" --cacert "$CA"
expect_status 200 "health after failed reloads"
tsv_stop r
pass "SIGHUP with a garbage or mismatched file: the error names the file, CN=tsvault-test-two stays in use"

tsv_start p
kill -HUP "$p_PID"
wait_log "$p_LOG" 'SIGHUP: nothing to reload' 1
http GET "$p_URL/health"
expect_status 200 "plain server after SIGHUP"
tsv_stop p
pass "SIGHUP on a plain-HTTP server is logged and harmless"

# ---- bad files and flags stop start-up ------------------------------------------------
bad_start() { # LABEL EXIT REGEX [flags]: the server must exit EXIT, log REGEX, never listen
    local label=$1 want=$2 re=$3 rc=0 out="$TSV_TMP/bad.log"
    shift 3
    mkdir -p "$TSV_TMP/bad-data"
    timeout 30 "$TSVAULT_BIN" serve --http-bind-address 127.0.0.1:0 --rpc-bind-address "" \
        --data-dir "$TSV_TMP/bad-data" --operator-token x "$@" >"$out" 2>&1 || rc=$?
    [ "$rc" = "$want" ] || fail "$label: exit $rc, expected $want: $(cat "$out")"
    ! grep -q 'msg=listening' "$out" || fail "$label: the server listened"
    grep -E -q -- "$re" "$out" || fail "$label: expected /$re/ in: $(cat "$out")"
    pass "$label: exit $rc, \"$(grep -E -o -- "$re" "$out" | head -n 1)\""
}
bad_start "missing certificate" 1 "TLS certificate file $P/nope.pem: cannot open: No such file or directory" \
    --tls-cert "$P/nope.pem" --tls-key "$P/one.key"
bad_start "missing key" 1 "TLS key file $P/nope.key: cannot open: No such file or directory" \
    --tls-cert "$P/one.pem" --tls-key "$P/nope.key"
bad_start "directory as certificate" 1 "TLS certificate file $P: not a regular file" \
    --tls-cert "$P" --tls-key "$P/one.key"
if [ "$(id -u)" != 0 ]; then
    cp "$P/one.key" "$P/noread.key"
    chmod 000 "$P/noread.key"
    bad_start "unreadable key" 1 "TLS key file $P/noread.key: cannot open: Permission denied" \
        --tls-cert "$P/one.pem" --tls-key "$P/noread.key"
fi
bad_start "not PEM" 1 "TLS certificate file $P/garbage.pem: no PEM certificate in it" \
    --tls-cert "$P/garbage.pem" --tls-key "$P/one.key"
bad_start "certificate as key" 1 "TLS key file $P/one.pem: no PEM private key in it" \
    --tls-cert "$P/one.pem" --tls-key "$P/one.pem"
bad_start "mismatched key" 1 "TLS key file $P/two.key does not match the certificate in $P/one.pem" \
    --tls-cert "$P/one.pem" --tls-key "$P/two.key"
bad_start "expired certificate" 1 "TLS certificate file $P/expired.pem: the certificate \(CN=tsvault-expired\) expired at 2020-01-02T00:00:00Z" \
    --tls-cert "$P/expired.pem" --tls-key "$P/expired.key"
bad_start "not yet valid" 1 "TLS certificate file $P/future.pem: the certificate \(CN=tsvault-future\) is not valid before 2099-01-01T00:00:00Z" \
    --tls-cert "$P/future.pem" --tls-key "$P/future.key"
bad_start "encrypted key" 1 "TLS key file $P/encrypted.key: the key is encrypted" \
    --tls-cert "$P/one.pem" --tls-key "$P/encrypted.key"
bad_start "certificate without key" 2 "--tls-cert is set but --tls-key is not" --tls-cert "$P/one.pem"
TSVAULT_TLS_KEY="$P/one.key" bad_start "key without certificate (env)" 2 "--tls-key is set but --tls-cert is not"
bad_start "TLS 1.4" 2 'tsvault: --tls-min-version: unsupported TLS version "1.4"' \
    --tls-cert "$P/one.pem" --tls-key "$P/one.key" --tls-min-version 1.4
bad_start "strict=maybe" 2 'tsvault: --tls-strict-ciphers: expected true or false, got "maybe"' \
    --tls-cert "$P/one.pem" --tls-key "$P/one.key" --tls-strict-ciphers=maybe
tsv_stop a
echo "all TLS tests passed"
