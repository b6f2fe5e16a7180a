// Least-privilege tokens and the influx CLI's admin routes through InfluxData's
// JS client (@influxdata/influxdb-client-apis): AuthorizationsAPI, UsersAPI,
// MeAPI, BucketsAPI, OrgsAPI, with BackupAPI/RestoreAPI to prove what a token
// may do, and the Go bbolt checker to prove the KV stays a bolt file influxd
// opens with every new record in it.
import test from 'node:test'
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { readFileSync, writeFileSync, mkdtempSync, rmSync } from 'node:fs'
import { gzipSync } from 'node:zlib'
import { join } from 'node:path'
import { tmpdir } from 'node:os'
import { InfluxDB } from '@influxdata/influxdb-client'
import {
  SetupAPI, OrgsAPI, BucketsAPI, RestoreAPI, BackupAPI, AuthorizationsAPI, UsersAPI, MeAPI,
} from '@influxdata/influxdb-client-apis'
import { startServer, binaryUploads, TESTDATA } from './harness.mjs'

const client = (url, token) => binaryUploads(new InfluxDB({ url, token, timeout: 60000 }))
const TOOLS = process.env.TSV_TOOLS

const OPER_TYPES = ['authorizations', 'buckets', 'dashboards', 'orgs', 'sources', 'tasks', 'telegrafs',
  'users', 'variables', 'scrapers', 'secrets', 'labels', 'views', 'documents', 'notificationRules',
  'notificationEndpoints', 'checks', 'dbrp', 'notebooks', 'annotations', 'remotes', 'replications']
const readAll = () => OPER_TYPES.map((type) => ({ action: 'read', resource: { type } }))
const operatorSet = () => OPER_TYPES.flatMap((type) => ['read', 'write'].map((action) => ({ action, resource: { type } })))

async function expectError(promise, statusCode, code, message) {
  await assert.rejects(promise, (e) => {
    assert.equal(e.statusCode, statusCode, `${e.message} ${e.body}`)
    const body = JSON.parse(e.body)
    assert.equal(body.code, code)
    if (message instanceof RegExp) assert.match(body.message, message)
    else if (message) assert.equal(body.message, message)
    return true
  })
}

const hex = (s) => Buffer.from(s).toString('hex')

test('least-privilege tokens, users, members, bucket and org updates, token rotation, KV round trip', async () => {
  const s = await startServer()
  const tmp = mkdtempSync(join(tmpdir(), 'tsv-tokens-'))
  try {
    const onboard = await new SetupAPI(client(s.url)).postSetup({
      body: { username: 'ada', password: 'correct-horse', org: 'acme', bucket: 'metrics', retentionPeriodSeconds: 0 },
    })
    const orgID = onboard.org.id
    const oper = client(s.url, onboard.auth.token)
    const auths = new AuthorizationsAPI(oper)
    const buckets = new BucketsAPI(oper)
    const orgs = new OrgsAPI(oper)
    const users = new UsersAPI(oper)
    const logs = await buckets.postBuckets({ body: { orgID, name: 'logs', retentionRules: [] } })

    // The onboarding token is listed, its token never shown again.
    let list = await auths.getAuthorizations({})
    assert.equal(list.authorizations.length, 1)
    assert.equal(list.authorizations[0].token, '')
    assert.equal(list.authorizations[0].user, 'ada')
    assert.equal(list.authorizations[0].org, 'acme')
    assert.equal(list.authorizations[0].permissions.length, 44)

    // ---- a read-only backup token --------------------------------------
    const ro = await auths.postAuthorizations({ body: { orgID, description: 'nightly backup', permissions: readAll() } })
    assert.match(ro.token, /^[A-Za-z0-9_-]{86}==$/)
    assert.equal(ro.status, 'active')
    assert.equal(ro.userID, onboard.user.id)
    assert.equal(ro.permissions.length, OPER_TYPES.length)
    const got = await auths.getAuthorizationsID({ authID: ro.id })
    assert.equal(got.token, '')
    assert.equal(got.description, 'nightly backup')
    assert.equal((await auths.getAuthorizations({ user: 'ada' })).authorizations.length, 2)
    assert.equal((await auths.getAuthorizations({ orgID })).authorizations.length, 2)
    // The `token` filter (not in the JS client's request type: sent by hand).
    const byToken = await oper.transport.request(`/api/v2/authorizations?token=${encodeURIComponent(ro.token)}`, null, { method: 'GET' })
    assert.deepEqual(byToken.authorizations.map((a) => a.id), [ro.id])

    const roApi = client(s.url, ro.token)
    const meta = await new BackupAPI(roApi).getBackupMetadata({}, { headers: { 'accept-encoding': 'identity' } })
    assert.ok(meta)
    const kvByRo = Buffer.from(await new BackupAPI(roApi).getBackupKV())
    assert.equal(kvByRo.readUInt32LE(16), 0xed0cdaed) // a bolt file
    // Restoring needs the whole operator set: refused before anything changes.
    await expectError(new RestoreAPI(roApi).postRestoreKV({ body: kvByRo.toString('latin1') }),
      401, 'unauthorized', 'write:authorizations is unauthorized')
    await expectError(new RestoreAPI(roApi).postRestoreBucketMetadata({ body: { bucketName: 'x', organizationID: orgID, organizationName: 'acme', bucketID: logs.id, retentionPolicies: [] } }),
      401, 'unauthorized', 'write:authorizations is unauthorized')
    assert.equal((await auths.getAuthorizations({})).authorizations.length, 2, 'nothing changed')
    assert.deepEqual((await buckets.getBuckets({ orgID })).buckets.map((b) => b.name).sort(),
      ['_monitoring', '_tasks', 'logs', 'metrics'])
    // It may read, not write.
    await expectError(new BucketsAPI(roApi).postBuckets({ body: { orgID, name: 'nope' } }),
      401, 'unauthorized', `write:orgs/${orgID}/buckets is unauthorized`)
    await expectError(new AuthorizationsAPI(roApi).postAuthorizations({ body: { orgID, permissions: readAll() } }),
      401, 'unauthorized', `write:orgs/${orgID}/authorizations is unauthorized`)

    // Deactivated: refused on the very next request; active again: works.
    const off = await auths.patchAuthorizationsID({ authID: ro.id, body: { status: 'inactive', description: 'paused' } })
    assert.equal(off.status, 'inactive')
    assert.equal(off.description, 'paused')
    await expectError(new BackupAPI(roApi).getBackupMetadata({}), 401, 'unauthorized', 'token is inactive')
    await auths.patchAuthorizationsID({ authID: ro.id, body: { status: 'active' } })
    assert.ok(Buffer.from(await new BackupAPI(roApi).getBackupKV()).length > 0)

    // ---- a bucket-scoped token ------------------------------------------
    const metricsID = onboard.bucket.id
    const scoped = await auths.postAuthorizations({
      body: { orgID, description: 'metrics only', permissions: [{ action: 'read', resource: { type: 'buckets', id: metricsID, orgID } }] },
    })
    // influxd names the resource and its org next to each permission.
    assert.equal(scoped.permissions[0].resource.name, 'metrics')
    assert.equal(scoped.permissions[0].resource.org, 'acme')
    const scopedApi = client(s.url, scoped.token)
    const seen = await new BucketsAPI(scopedApi).getBuckets({})
    assert.deepEqual(seen.buckets.map((b) => b.id), [metricsID])
    assert.equal((await new BucketsAPI(scopedApi).getBucketsID({ bucketID: metricsID })).name, 'metrics')
    await expectError(new BucketsAPI(scopedApi).getBucketsID({ bucketID: logs.id }),
      401, 'unauthorized', `read:orgs/${orgID}/buckets/${logs.id} is unauthorized`)
    await expectError(new BackupAPI(scopedApi).getBackupKV(), 401, 'unauthorized', 'read:authorizations is unauthorized')
    // It lists only what it may read: not even itself.
    assert.equal((await new AuthorizationsAPI(scopedApi).getAuthorizations({})).authorizations.length, 0)

    // ---- bad input --------------------------------------------------------
    await expectError(auths.postAuthorizations({ body: { orgID, permissions: [{ action: 'read', resource: { type: 'nope' } }] } }),
      400, 'invalid', 'invalid resource type for permission: unknown resource type for permission')
    await expectError(auths.postAuthorizations({ body: { orgID, permissions: [{ action: 'delete', resource: { type: 'buckets' } }] } }),
      400, 'invalid', 'invalid action type for permission: unknown action for permission')
    await expectError(auths.postAuthorizations({ body: { orgID, permissions: [{ action: 'read', resource: { type: 'buckets', orgID: '0000000000000001' } }] } }),
      400, 'invalid', `permission read:orgs/0000000000000001/buckets is not for org id ${orgID}`)
    await expectError(auths.postAuthorizations({ body: { orgID, permissions: [] } }),
      400, 'invalid', 'authorization must include permissions')
    await expectError(auths.postAuthorizations({ body: { orgID: 'xyz', permissions: readAll() } }), 400, 'invalid')
    await expectError(auths.getAuthorizationsID({ authID: 'nothex' }), 400, 'invalid', 'id must have a length of 16 bytes')
    await expectError(auths.getAuthorizationsID({ authID: '00000000000000ff' }), 404, 'not found', 'authorization not found')
    await expectError(auths.patchAuthorizationsID({ authID: ro.id, body: { status: 'sleeping' } }), 400, 'invalid')

    // ---- users, me, passwords, members and owners -----------------------
    assert.equal((await new MeAPI(oper).getMe()).name, 'ada')
    const bob = await users.postUsers({ body: { name: 'bob' } })
    assert.equal(bob.status, 'active')
    await expectError(users.postUsers({ body: { name: 'bob' } }), 422, 'conflict', 'user with name bob already exists')
    await expectError(users.postUsersIDPassword({ userID: bob.id, body: { password: 'short' } }),
      400, 'invalid', 'passwords must be at least 8 characters long')
    await expectError(users.postUsersIDPassword({ userID: bob.id, body: { password: '' } }),
      400, 'invalid', 'passwords must be at least 8 characters long')
    await users.postUsersIDPassword({ userID: bob.id, body: { password: 'long-enough' } })
    const carol = await users.postUsers({ body: { name: 'carol' } })
    const renamed = await users.patchUsersID({ userID: bob.id, body: { name: 'robert' } })
    assert.equal(renamed.name, 'robert')
    assert.deepEqual((await users.getUsers({})).users.map((u) => u.name).sort(), ['ada', 'carol', 'robert'])
    assert.equal((await users.getUsersID({ userID: carol.id })).name, 'carol')
    await expectError(users.getUsersID({ userID: '00000000000000ff' }), 404, 'not found', 'user not found')

    const member = await orgs.postOrgsIDMembers({ orgID, body: { id: carol.id } })
    assert.equal(member.role, 'member')
    assert.deepEqual((await orgs.getOrgsIDMembers({ orgID })).users.map((u) => u.name), ['carol'])
    assert.deepEqual((await orgs.getOrgsIDOwners({ orgID })).users.map((u) => u.name), ['ada'])
    await orgs.postOrgsIDMembers({ orgID, body: { id: bob.id } })
    await orgs.deleteOrgsIDMembersID({ orgID, userID: bob.id })
    await expectError(orgs.postOrgsIDMembers({ orgID, body: { id: '00000000000000ff' } }), 404, 'not found', 'user not found')
    await users.deleteUsersID({ userID: bob.id })
    await expectError(users.getUsersID({ userID: bob.id }), 404, 'not found')

    // ---- bucket and org updates ------------------------------------------
    const upd = await buckets.patchBucketsID({ bucketID: logs.id, body: { name: 'logs2', description: 'app logs', retentionRules: [{ type: 'expire', everySeconds: 7200 }] } })
    assert.equal(upd.name, 'logs2')
    assert.equal(upd.description, 'app logs')
    assert.equal(upd.retentionRules[0].everySeconds, 7200)
    assert.equal(upd.retentionRules[0].shardGroupDurationSeconds, 3600)
    await expectError(buckets.patchBucketsID({ bucketID: logs.id, body: { name: 'metrics' } }), 422, 'conflict', 'bucket with name metrics already exists')
    const system = (await buckets.getBuckets({ orgID, name: '_tasks' })).buckets[0]
    await expectError(buckets.patchBucketsID({ bucketID: system.id, body: { name: 'tasks' } }), 400, 'invalid', 'system buckets cannot be renamed')
    const org2 = await orgs.patchOrgsID({ orgID, body: { description: 'the acme org' } })
    assert.equal(org2.description, 'the acme org')
    assert.equal(org2.name, 'acme')
    const temp = await orgs.postOrgs({ body: { name: 'temp' } })
    await buckets.postBuckets({ body: { orgID: temp.id, name: 'scratch' } })
    await expectError(orgs.patchOrgsID({ orgID: temp.id, body: { name: 'acme' } }), 422, 'conflict')
    await orgs.deleteOrgsID({ orgID: temp.id })
    await expectError(orgs.getOrgsID({ orgID: temp.id }), 404, 'not found')
    assert.equal((await buckets.getBuckets({ name: 'scratch' })).buckets.length, 0)

    // ---- rotate the operator token: create new, delete old --------------
    const fresh = await auths.postAuthorizations({ body: { orgID, description: 'operator (rotated)', permissions: operatorSet() } })
    const rotated = client(s.url, fresh.token)
    await new AuthorizationsAPI(rotated).deleteAuthorizationsID({ authID: onboard.auth.id })
    await expectError(orgs.getOrgs({}), 401, 'unauthorized', 'unauthorized access')
    assert.equal((await new OrgsAPI(rotated).getOrgs({ org: 'acme' })).orgs[0].id, orgID)

    // ---- KV round trip: backup/kv -> bbolt check -> restore/kv ----------
    const kv = Buffer.from(await new BackupAPI(rotated).getBackupKV())
    const file = join(tmp, 'kv.bolt')
    writeFileSync(file, kv)
    const dump = execFileSync(join(TOOLS, 'boltcheck'), [file], { maxBuffer: 64 << 20 }).toString()
    for (const id of [ro.id, scoped.id, fresh.id]) assert.ok(dump.includes(`K ${hex('authorizationsv1')} ${hex(id)} `), `auth ${id} in the bolt file`)
    assert.ok(!dump.includes(`K ${hex('authorizationsv1')} ${hex(onboard.auth.id)} `), 'deleted token gone')
    assert.ok(dump.includes(`K ${hex('authorizationindexv1')} ${hex(ro.token)} ${hex(ro.id)}`))
    assert.ok(dump.includes(`K ${hex('usersv1')} ${hex(carol.id)} `))
    assert.ok(!dump.includes(`K ${hex('usersv1')} ${hex(bob.id)} `))
    assert.ok(dump.includes(`K ${hex('userresourcemappingsv1')} ${hex(orgID + carol.id)} `))
    assert.ok(dump.includes(`K ${hex('bucketindexv1')} ${hex(orgID + 'logs2')} ${hex(logs.id)}`))
    assert.ok(!dump.includes(`K ${hex('bucketindexv1')} ${hex(orgID + 'logs')} `))

    const res = await new RestoreAPI(rotated).postRestoreKV({ body: gzipSync(kv).toString('latin1') }, { headers: { 'content-encoding': 'gzip' } })
    assert.equal(res.token, fresh.token) // the first operator token in the restored KV
    const after = await new AuthorizationsAPI(rotated).getAuthorizations({})
    assert.deepEqual(after.authorizations.map((a) => a.id).sort(), [ro.id, scoped.id, fresh.id].sort())
    assert.deepEqual((await new UsersAPI(rotated).getUsers({})).users.map((u) => u.name).sort(), ['ada', 'carol'])
    assert.deepEqual((await new OrgsAPI(rotated).getOrgsIDMembers({ orgID })).users.map((u) => u.name), ['carol'])
    assert.equal((await new BucketsAPI(rotated).getBucketsID({ bucketID: logs.id })).name, 'logs2')
    // The restored tokens keep their rights.
    assert.deepEqual((await new BucketsAPI(scopedApi).getBuckets({})).buckets.map((b) => b.id), [metricsID])
    assert.ok(Buffer.from(await new BackupAPI(roApi).getBackupKV()).length > 0)

    // No token ever reaches the log.
    for (const t of [ro.token, scoped.token, fresh.token, onboard.auth.token]) assert.ok(!s.log().includes(t), 'token in the log')
  } finally {
    rmSync(tmp, { recursive: true, force: true })
    assert.equal(await s.stop(), 0)
  }
})

test("a real influxd 2.x bolt's tokens keep working after restore/kv", async () => {
  const bolt = readFileSync(join(TESTDATA, 'influxdb-2-kv', 'influxd-2.x-live.bolt'))
  const s = await startServer()
  try {
    const res = await new RestoreAPI(client(s.url, s.token)).postRestoreKV(
      { body: gzipSync(bolt).toString('latin1') }, { headers: { 'content-encoding': 'gzip' } })
    const oper = client(s.url, res.token)
    const list = await new AuthorizationsAPI(oper).getAuthorizations({})
    assert.equal(list.authorizations.length, 2)
    // Every raw token stored in the file authenticates and is scoped as stored.
    const tokens = [...new Set(bolt.toString('latin1').match(/[A-Za-z0-9_-]{86}==/g))]
    assert.ok(tokens.length >= 2)
    let scopedSeen = 0
    for (const t of tokens) {
      const api = client(s.url, t)
      const bs = await new BucketsAPI(api).getBuckets({ limit: 100 })
      assert.ok(bs.buckets.length >= 1)
      if (t !== res.token) {
        scopedSeen++
        await expectError(new BackupAPI(api).getBackupKV(), 401, 'unauthorized', 'read:authorizations is unauthorized')
      }
    }
    assert.ok(scopedSeen >= 1)
    // A new token in that KV is stored raw like the file's own.
    const org = list.authorizations[0].orgID
    const t = await new AuthorizationsAPI(oper).postAuthorizations({ body: { orgID: org, permissions: [{ action: 'read', resource: { type: 'orgs' } }] } })
    assert.equal((await new OrgsAPI(client(s.url, t.token)).getOrgs({})).orgs.length, 1)
  } finally {
    assert.equal(await s.stop(), 0)
  }
})
