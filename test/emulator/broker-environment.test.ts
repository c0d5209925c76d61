import t from 'tap'
import { brokerEnvironment } from '../../src/emulator/broker-environment.js'
import { startTestEmulator } from './fixtures/helpers.js'

t.test('points a broker at the emulator, with or without its caller issuer', async (t) => {
  const emulator = await startTestEmulator(t)
  const env = brokerEnvironment(emulator, { caFile: '/tmp/ca.pem' })
  t.match(env, {
    NODE_EXTRA_CA_CERTS: '/tmp/ca.pem',
    ARM_ENDPOINT: emulator.armEndpoint,
    IDENTITY_ENDPOINT: emulator.identityEndpoint,
    IDENTITY_HEADER: emulator.identityHeader,
    AVI_ACCOUNT_NAME: 'contosto-azurevideoindexer'
  })
  t.notOk('AUTH_ENTRA_TENANT_ID' in env)
  // With callers: Entra mode against the emulator's tenant, accepting both token versions.
  t.match(brokerEnvironment(emulator, { caFile: '/tmp/ca.pem', callers: true }), {
    AUTH_ENTRA_TENANT_ID: emulator.tenantId,
    AUTH_ENTRA_AUTHORITY_HOST: emulator.authorityHost,
    AUTH_ENTRA_AUDIENCE: `${emulator.brokerClientId},api://vi-token-broker`
  })
})

t.test('an emulator without accounts cannot serve a broker', async (t) => {
  const emulator = await startTestEmulator(t, { accounts: [] })
  t.throws(() => brokerEnvironment(emulator, { caFile: 'x' }), { message: 'the emulator has no account' })
})
