// Drives tsvault with InfluxData's JS client (@influxdata/influxdb-client-apis):
// onboarding, orgs and buckets, the partial-restore flow of the influx CLI
// (docs/influxdb-compat.md#cli-restore-partial) with RestoreAPI, backups with BackupAPI, and a
// full KV restore with both real bolt files.
import test from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync, mkdtempSync, rmSync } from 'node:fs'
import { gzipSync, gunzipSync } from 'node:zlib'
import { join } from 'node:path'
import { tmpdir } from 'node:os'
import { InfluxDB } from '@influxdata/influxdb-client'
import { HealthAPI, SetupAPI, OrgsAPI, BucketsAPI, RestoreAPI, BackupAPI } from '@influxdata/influxdb-client-apis'
import { startServer, prepareFixture, binaryUploads, orgIDByName, restoreFixture, checkShardBackups, metadataBackupParts, TESTDATA } from './harness.mjs'

const client = (url, token) => binaryUploads(new InfluxDB({ url, token, timeout: 60000 }))

async function expectError(promise, statusCode, code) {
  await assert.rejects(promise, (e) => {
    assert.equal(e.statusCode, statusCode, e.message)
    const body = JSON.parse(e.body)
    assert.equal(body.code, code)
    assert.equal(typeof body.message, 'string')
    return true
  })
}

test('onboarding, orgs and buckets through the JS client', async () => {
  const s = await startServer()
  try {
    const anon = client(s.url)
    const health = await new HealthAPI(anon).getHealth()
    assert.equal(health.status, 'pass')
    assert.match(health.version, /^2\.[1-9]\d*\.\d+/)

    const setup = new SetupAPI(anon)
    assert.equal((await setup.getSetup()).allowed, true)
    const onboard = await setup.postSetup({ body: { username: 'ada', password: 'correct-horse', org: 'acme', bucket: 'metrics', retentionPeriodSeconds: 0 } })
    assert.equal(onboard.org.name, 'acme')
    assert.equal(onboard.bucket.name, 'metrics')
    assert.match(onboard.auth.token, /^[A-Za-z0-9_-]{86}==$/)
    assert.equal((await setup.getSetup()).allowed, false)
    await expectError(setup.postSetup({ body: { username: 'x', password: 'yyyyyyyy', org: 'o', bucket: 'b' } }), 422, 'conflict')

    const api = client(s.url, onboard.auth.token)
    const orgs = new OrgsAPI(api)
    const found = await orgs.getOrgs({ org: 'acme' })
    assert.equal(found.orgs.length, 1)
    assert.equal(found.orgs[0].id, onboard.org.id)
    await expectError(orgs.getOrgs({ org: 'nope' }), 404, 'not found')
    const created = await orgs.postOrgs({ body: { name: 'second' } })
    assert.match(created.id, /^[0-9a-f]{16}$/)
    await expectError(orgs.postOrgs({ body: { name: 'second' } }), 422, 'conflict')

    const buckets = new BucketsAPI(api)
    const b = await buckets.postBuckets({ body: { orgID: created.id, name: 'cpu', retentionRules: [{ type: 'expire', everySeconds: 86400 * 3 }] } })
    assert.equal(b.name, 'cpu')
    assert.equal(b.retentionRules[0].everySeconds, 86400 * 3)
    assert.equal(b.retentionRules[0].shardGroupDurationSeconds, 86400)
    const list = await buckets.getBuckets({ orgID: created.id, name: 'cpu' })
    assert.deepEqual(list.buckets.map((x) => x.id), [b.id])
    const sys = await buckets.getBuckets({ orgID: created.id })
    assert.deepEqual(sys.buckets.map((x) => x.name).sort(), ['_monitoring', '_tasks', 'cpu'])
    assert.equal((await buckets.getBucketsID({ bucketID: b.id })).id, b.id)
    await expectError(buckets.postBuckets({ body: { orgID: created.id, name: 'cpu' } }), 422, 'conflict')
    await expectError(buckets.postBuckets({ body: { orgID: created.id, name: '_hidden' } }), 400, 'invalid')
    await buckets.deleteBucketsID({ bucketID: b.id })
    await expectError(buckets.getBucketsID({ bucketID: b.id }), 404, 'not found')

    // A fresh token from the KV is accepted; the config token is too; others are not.
    await expectError(new OrgsAPI(client(s.url, 'wrong')).getOrgs({}), 401, 'unauthorized')
  } finally {
    assert.equal(await s.stop(), 0)
  }
})

test('partial restore flow (influx CLI §2.4) with RestoreAPI, then BackupAPI', async () => {
  const work = mkdtempSync(join(tmpdir(), 'tsv-js-fx-'))
  const s = await startServer()
  try {
    prepareFixture(work)
    const api = client(s.url, s.token)
    const orgs = new OrgsAPI(api)
    const restore = new RestoreAPI(api)
    const backup = new BackupAPI(api)

    const restored = await restoreFixture(restore, work, async (manifest) => {
      manifest.organizationID = await orgIDByName(orgs, manifest.organizationName)
    })
    const { shardOf } = restored
    // A second restore of the same bucket name conflicts, as influxd answers.
    const again = JSON.parse(readFileSync(join(work, 'manifest-daily.json'), 'utf8'))
    again.organizationID = (await orgs.getOrgs({ org: 'fixture-org' })).orgs[0].id
    await expectError(restore.postRestoreBucketMetadata({ body: again }), 422, 'conflict')

    // Back up every shard: the files come back byte-identical under 2.x names.
    await checkShardBackups(backup, work, restored)
    await expectError(backup.getBackupShardId({ shardID: 999999 }), 404, 'not found')

    // Metadata backup: kv, sql, buckets parts; the manifests describe what we restored.
    const parts = await metadataBackupParts(backup)
    assert.equal(parts[1].body.subarray(0, 16).toString('latin1'), 'SQLite format 3\0')
    const manifests = JSON.parse(parts[2].body.toString())
    const fixtures = manifests.filter((m) => m.bucketName.startsWith('fixture_'))
    assert.equal(fixtures.length, 2)
    const ids = fixtures.flatMap((m) => m.retentionPolicies[0].shardGroups.flatMap((g) => g.shards.map((x) => x.id))).sort((a, b) => a - b)
    assert.deepEqual(ids, Object.values(shardOf).sort((a, b) => a - b))
  } finally {
    assert.equal(await s.stop(), 0)
    rmSync(work, { recursive: true, force: true })
  }
})

test('full KV restore of both real bolt files via RestoreAPI', async () => {
  const files = [
    readFileSync(join(TESTDATA, 'influxdb-2-kv', 'influxd-2.x-live.bolt')),
    gunzipSync(readFileSync(join(TESTDATA, 'influxdb-2-kv', 'influxd-2.0-backup.bolt.gz'))),
  ]
  for (const bolt of files) {
    const s = await startServer()
    try {
      const res = await new RestoreAPI(client(s.url, s.token)).postRestoreKV(
        { body: gzipSync(bolt).toString('latin1') }, { headers: { 'content-encoding': 'gzip' } })
      assert.equal(typeof res.token, 'string')
      assert.ok(res.token.length > 0)
      // The returned operator token works, and the restored tenants are served.
      const api = client(s.url, res.token)
      const orgs = await new OrgsAPI(api).getOrgs({})
      assert.ok(orgs.orgs.length >= 1)
      const buckets = await new BucketsAPI(api).getBuckets({ limit: 100 })
      assert.ok(buckets.buckets.some((b) => b.type === 'user'))
      // And the KV backs up as a bolt file again.
      const kv = Buffer.from(await new BackupAPI(api).getBackupKV())
      assert.equal(kv.readUInt32LE(16), 0xed0cdaed)
    } finally {
      assert.equal(await s.stop(), 0)
    }
  }
})
