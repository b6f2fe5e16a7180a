// Helper of test_tls.sh (not a test by itself): InfluxData's JS client over
// HTTPS. Node reads NODE_EXTRA_CA_CERTS only at start-up, so test_tls.sh
// runs this in a new process for each trust setting:
//
//   node tls_js_client.mjs roundtrip URL TOKEN FIXTURE_DIR  (NODE_EXTRA_CA_CERTS = the test CA)
//   node tls_js_client.mjs insecure URL                     (no CA; rejectUnauthorized: false)
//   node tls_js_client.mjs reject URL                       (no CA: the client must refuse)
//
// roundtrip: the influx CLI's partial-restore flow through RestoreAPI (org,
// bucketMetadata, one upload per shard), then BackupAPI downloads of every
// shard, byte-compared with the fixture's files, and the metadata backup.
import assert from 'node:assert/strict'
import { InfluxDB } from '@influxdata/influxdb-client'
import { HealthAPI, OrgsAPI, RestoreAPI, BackupAPI } from '@influxdata/influxdb-client-apis'
import { binaryUploads, restoreFixture, checkShardBackups, metadataBackupParts } from './harness.mjs'

const [mode, url, token, work] = process.argv.slice(2)
assert.match(url ?? '', /^https:\/\//, 'the URL must be https://')

const client = (opts = {}) => binaryUploads(new InfluxDB({ url, token, timeout: 60000, ...opts }))

async function roundtrip() {
  assert.ok(process.env.NODE_EXTRA_CA_CERTS, 'NODE_EXTRA_CA_CERTS must name the test CA')
  const api = client()
  assert.equal((await new HealthAPI(api).getHealth()).status, 'pass')
  const orgID = (await new OrgsAPI(api).postOrgs({ body: { name: 'js-tls-org' } })).id
  const restore = new RestoreAPI(api)
  const backup = new BackupAPI(api)
  const restored = await restoreFixture(restore, work, (manifest) => {
    manifest.organizationID = orgID
    manifest.organizationName = 'js-tls-org'
  })
  const bytes = await checkShardBackups(backup, work, restored)
  const parts = await metadataBackupParts(backup)
  const names = JSON.parse(parts[2].body.toString()).map((b) => b.bucketName)
  assert.ok(names.includes('fixture_autogen') && names.includes('fixture_daily'), names.join(','))
  console.log(`ok - JS client over HTTPS: 5 shards restored and backed up byte-identical (${bytes} bytes), metadata backup`)
}

async function insecure() {
  assert.ok(!process.env.NODE_EXTRA_CA_CERTS)
  const health = await new HealthAPI(client({ transportOptions: { rejectUnauthorized: false } })).getHealth()
  assert.equal(health.status, 'pass')
  console.log('ok - JS client with rejectUnauthorized: false (no CA) reaches /health')
}

async function reject() {
  assert.ok(!process.env.NODE_EXTRA_CA_CERTS)
  await assert.rejects(new HealthAPI(client()).getHealth(), (e) => {
    assert.match(String(e.code ?? e.message), /CERT|certificate|SELF_SIGNED|UNABLE_TO/i, String(e))
    return true
  })
  console.log('ok - JS client without the CA refuses the server certificate')
}

const modes = { roundtrip, insecure, reject }
if (!modes[mode]) {
  console.error('usage: tls_js_client.mjs roundtrip|insecure|reject URL [TOKEN FIXTURE_DIR]')
  process.exit(2)
}
await modes[mode]()
