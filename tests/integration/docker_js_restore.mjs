// Used by test_docker.sh: restores the 1.6 fixture into a tsvault running in
// a container, through the port it listens on, with InfluxData's JS client
// (the influx CLI's partial-restore flow, as test_js_client.mjs does against
// a local server), then checks the data by backing every shard up again.
// Usage: node docker_js_restore.mjs URL TOKEN  (TSVAULT_BIN, TSV_TESTDATA,
// TSV_SRC set as for the other integration tests). Exits non-zero on failure.
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { tmpdir } from 'node:os'
import { InfluxDB } from '@influxdata/influxdb-client'
import { HealthAPI, OrgsAPI, BucketsAPI, RestoreAPI, BackupAPI } from '@influxdata/influxdb-client-apis'
import { prepareFixture, binaryUploads, orgIDByName, restoreFixture, checkShardBackups } from './harness.mjs'

const [url, token] = process.argv.slice(2)
if (!url || !token) throw new Error('usage: docker_js_restore.mjs URL TOKEN')
const api = binaryUploads(new InfluxDB({ url, token, timeout: 60000 }))
const work = mkdtempSync(join(tmpdir(), 'tsv-docker-js-'))
try {
  const health = await new HealthAPI(api).getHealth()
  assert.equal(health.status, 'pass')
  prepareFixture(work)
  const orgs = new OrgsAPI(api)
  const restored = await restoreFixture(new RestoreAPI(api), work, async (manifest) => {
    manifest.organizationID = await orgIDByName(orgs, manifest.organizationName)
  })
  const { bucketOf } = restored
  const listed = await new BucketsAPI(api).getBuckets({ name: 'fixture_daily' })
  assert.deepEqual(listed.buckets.map((b) => b.id), [bucketOf.daily])
  await checkShardBackups(new BackupAPI(api), work, restored)
  console.log(`restored and backed up 5 shards of fixture_autogen (${bucketOf.autogen}) and fixture_daily (${bucketOf.daily})`)
} finally {
  rmSync(work, { recursive: true, force: true })
}
