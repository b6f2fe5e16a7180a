// Integration harness for the JS-client tests: starts the real tsvault on a
// free loopback port (port 0, read back from its log) with a fresh data
// directory, and always stops it and removes the directory.
import assert from 'node:assert/strict'
import { spawn, execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

export const TSVAULT_BIN = process.env.TSVAULT_BIN
export const TESTDATA = process.env.TSV_TESTDATA
export const SRC = process.env.TSV_SRC
if (!TSVAULT_BIN || !TESTDATA || !SRC) throw new Error('TSVAULT_BIN, TSV_TESTDATA and TSV_SRC must be set')

export async function startServer(extraArgs = []) {
  const dir = mkdtempSync(join(tmpdir(), 'tsv-js-'))
  const token = 'js-bootstrap-' + process.pid
  const child = spawn(TSVAULT_BIN, ['serve', '--http-bind-address', '127.0.0.1:0', '--rpc-bind-address', '', '--data-dir', join(dir, 'data'),
    '--operator-token', token, '--log-level', 'debug', ...extraArgs], { stdio: ['ignore', 'ignore', 'pipe'] })
  let log = ''
  child.stderr.on('data', (d) => { log += d.toString() })
  const port = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('tsvault did not start:\n' + log)), 15000)
    const check = () => {
      const m = /msg=listening.* port=(\d+)/.exec(log)
      if (m) { clearTimeout(timer); resolve(Number(m[1])) }
    }
    child.stderr.on('data', check)
    child.on('exit', (code) => { clearTimeout(timer); reject(new Error(`tsvault exited ${code}:\n${log}`)) })
  })
  return {
    url: `http://127.0.0.1:${port}`,
    token,
    dir,
    dataDir: join(dir, 'data'),
    log: () => log,
    async stop() {
      if (child.exitCode === null) {
        child.kill('SIGTERM')
        await new Promise((r) => child.once('exit', r))
      }
      rmSync(dir, { recursive: true, force: true })
      if (child.exitCode !== 0) console.error(`tsvault exited with ${child.exitCode} (${child.signalCode}); its log:\n${log}`)
      return child.exitCode
    },
  }
}

// Prepares the 1.6 fixture as influx 2.x shard archives (tests/integration/fixture.sh).
export function prepareFixture(outDir) {
  execFileSync('bash', ['-c', `set -e; TSV_TESTDATA="$1"; . "$2/tests/integration/fixture.sh"; fixture_prepare "$3"`,
    'x', TESTDATA, SRC, outDir], { stdio: 'inherit' })
}

// The org named `name`, created when the lookup says "not found" (as the influx CLI does).
export async function orgIDByName(orgs, name) {
  try {
    return (await orgs.getOrgs({ org: name })).orgs[0].id
  } catch (e) {
    assert.equal(JSON.parse(e.body).code, 'not found')
    return (await orgs.postOrgs({ body: { name } })).id
  }
}

// The influx CLI's partial-restore flow (docs/influxdb-compat.md#cli-restore-partial) of the
// fixture prepared in `work`, through a RestoreAPI: per retention policy, setOrg(manifest) fills
// in the org, then the bucket metadata, then one gzip upload per mapped shard. Returns
// { shardOf: old shard ID -> new, bucketOf: rp -> bucket ID }.
export async function restoreFixture(restore, work, setOrg) {
  const shardOf = {}
  const bucketOf = {}
  for (const rp of ['autogen', 'daily']) {
    const manifest = JSON.parse(readFileSync(join(work, `manifest-${rp}.json`), 'utf8'))
    await setOrg(manifest)
    const res = await restore.postRestoreBucketMetadata({ body: manifest })
    assert.equal(res.name, `fixture_${rp}`)
    bucketOf[rp] = res.id
    for (const m of res.shardMappings) {
      shardOf[m.oldId] = m.newId
      const gz = readFileSync(join(work, `s${m.oldId}.tar.gz`))
      await restore.postRestoreShardId({ shardID: String(m.newId), body: gz.toString('latin1') },
        { headers: { 'content-encoding': 'gzip', 'content-type': 'application/octet-stream' } })
    }
  }
  assert.equal(Object.keys(shardOf).length, 5)
  return { shardOf, bucketOf }
}

// Backs up every shard restoreFixture restored, through a BackupAPI: the files must come back
// byte-identical to the fixture's, under 2.x names. Returns the bytes compared.
export async function checkShardBackups(backup, work, { shardOf, bucketOf }) {
  let bytes = 0
  for (const [oldId, newId] of Object.entries(shardOf)) {
    const raw = await backup.getBackupShardId({ shardID: newId }, { headers: { 'accept-encoding': 'identity' } })
    const files = untar(Buffer.from(raw))
    const rp = Number(oldId) <= 3 ? 'autogen' : 'daily'
    const src = join(work, 'x', 'fixture', rp, oldId)
    const expected = readdirSync(src).sort()
    assert.deepEqual(files.map((f) => f.name), expected.map((n) => `${bucketOf[rp]}/${rp}/${newId}/${n}`))
    for (const f of files) {
      assert.ok(Buffer.compare(f.data, readFileSync(join(src, f.name.split('/').pop()))) === 0, f.name)
      bytes += f.data.length
    }
  }
  return bytes
}

// The metadata backup through a BackupAPI, split into its parts, which must be kv, sql, buckets.
export async function metadataBackupParts(backup) {
  const body = Buffer.from(await backup.getBackupMetadata({}, { headers: { 'accept-encoding': 'identity' } }))
  const boundary = /^--([0-9a-f]{60})\r\n/.exec(body.toString('latin1', 0, 80))[1]
  const parts = multipartParts(body, boundary)
  assert.deepEqual(parts.map((p) => /name="(\w+)"/.exec(p.headers)[1]), ['kv', 'sql', 'buckets'])
  return parts
}

// The JS client's RestoreAPI turns a non-string body into JSON and encodes a
// string body as UTF-8, so binary uploads cannot pass through it unchanged.
// This shim keeps every client code path (URL, headers, response decoding)
// and only swaps the encoded body for the exact bytes, sent chunked with no
// Content-Length, as the influx CLI sends uploads. Binary bodies are passed
// to the API as latin1 strings ("binary strings").
export function binaryUploads(influxDB) {
  const t = influxDB.transport
  const orig = t.createRequestMessage.bind(t)
  t.createRequestMessage = (path, body, options, ok, fail) => orig(path, body, options, (req) => {
    if (/\/api\/v2\/restore\/(kv|sql|shards\/)/.test(path)) {
      req.body = Buffer.from(body, 'latin1')
      delete req.headers['content-length']
      req.headers['transfer-encoding'] = 'chunked'
    }
    ok(req)
  }, fail)
  return influxDB
}

// Minimal ustar reader: [{name, data}] for regular files.
export function untar(buf) {
  const out = []
  let off = 0
  while (off + 512 <= buf.length) {
    const h = buf.subarray(off, off + 512)
    if (h.every((b) => b === 0)) break
    const str = (a, b) => h.subarray(a, b).toString('latin1').replace(/\0.*$/s, '')
    let name = str(0, 100)
    const prefix = str(345, 500)
    if (prefix) name = prefix + '/' + name
    const size = parseInt(str(124, 136).trim() || '0', 8)
    const type = String.fromCharCode(h[156] || 48)
    off += 512
    if (type === '0') out.push({ name, data: buf.subarray(off, off + size) })
    off += Math.ceil(size / 512) * 512
  }
  return out
}

// Splits a multipart/mixed body into [{headers, body}].
export function multipartParts(buf, boundary) {
  const delim = Buffer.from('--' + boundary)
  const parts = []
  let pos = buf.indexOf(delim)
  while (pos >= 0) {
    const start = pos + delim.length
    if (buf.subarray(start, start + 2).toString() === '--') break
    const headEnd = buf.indexOf('\r\n\r\n', start)
    const headers = buf.subarray(start + 2, headEnd).toString()
    const next = buf.indexOf(Buffer.concat([Buffer.from('\r\n'), delim]), headEnd)
    parts.push({ headers, body: buf.subarray(headEnd + 4, next) })
    pos = next + 2
  }
  return parts
}
