// Used by test_docker.sh: restores the 1.6 fixture into a tsvault running in
// a container, through the port it listens on, with InfluxData's JS client
// (the influx CLI's partial-restore flow, as test_js_client.mjs does against
// a local server), then checks the data by backing every shard up again.
// Usage: node docker_js_restore.mjs URL TOKEN  (TSVAULT_BIN, TSV_TESTDATA,
// TSV_SRC set as for the other integration tests). Exits non-zero on failure.
import assert from 'node:assert/strict'
import { readFileSync, mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { tmpdir } from 'node:os'
import { InfluxDB } from '@influxdata/influxdb-client'
import { HealthAPI, OrgsAPI, BucketsAPI, RestoreAPI, BackupAPI } from '@influxdata/influxdb-client-apis'
import { prepareFixture, binaryUploads, untar } from './harness.mjs'

const [url, token] = process.argv.slice(2)
if (!url || !token) throw new Error('usage: docker_js_restore.mjs URL TOKEN')
const api = binaryUploads(new InfluxDB({ url, token, timeout: 60000 }))
const work = mkdtempSync(join(tmpdir(), 'tsv-docker-js-'))
try {
  const health = await new HealthAPI(api).getHealth()
  assert.equal(health.status, 'pass')
  prepareFixture(work)
  const orgs = new OrgsAPI(api)
  const restore = new RestoreAPI(api)
  const shardOf = {}
  const bucketOf = {}
  for (const rp of ['autogen', 'daily']) {
    const manifest = JSON.parse(readFileSync(join(work, `manifest-${rp}.json`), 'utf8'))
    let orgID
    try {
      orgID = (await orgs.getOrgs({ org: manifest.organizationName })).orgs[0].id
    } catch (e) {
      assert.equal(JSON.parse(e.body).code, 'not found')
      orgID = (await orgs.postOrgs({ body: { name: manifest.organizationName } })).id
    }
    manifest.organizationID = orgID
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
  const listed = await new BucketsAPI(api).getBuckets({ name: 'fixture_daily' })
  assert.deepEqual(listed.buckets.map((b) => b.id), [bucketOf.daily])
  // Every shard backs up byte-identical to the fixture's files.
  const backup = new BackupAPI(api)
  for (const [oldId, newId] of Object.entries(shardOf)) {
    const raw = await backup.getBackupShardId({ shardID: newId }, { headers: { 'accept-encoding': 'identity' } })
    const files = untar(Buffer.from(raw))
    const rp = Number(oldId) <= 3 ? 'autogen' : 'daily'
    const src = join(work, 'x', 'fixture', rp, oldId)
    assert.deepEqual(files.map((f) => f.name), readdirSync(src).sort().map((n) => `${bucketOf[rp]}/${rp}/${newId}/${n}`))
    for (const f of files) {
      assert.ok(Buffer.compare(f.data, readFileSync(join(src, f.name.split('/').pop()))) === 0, f.name)
    }
  }
  console.log(`restored and backed up 5 shards of fixture_autogen (${bucketOf.autogen}) and fixture_daily (${bucketOf.daily})`)
} finally {
  rmSync(work, { recursive: true, force: true })
}
