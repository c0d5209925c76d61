import { randomBytes } from 'node:crypto'
import t from 'tap'
import { open, parseKeyring, rotateKeyring, seal } from '../src/token-sealer.js'

const key = () => randomBytes(32).toString('base64')

t.test('seal and open round-trip, and the sealed value reveals nothing', async (t) => {
  const keyring = parseKeyring(`k1:${key()}`)
  const sealed = seal(keyring, 'secret-token-value', 'account/video/abc')
  t.match(sealed, /^v1\.k1\.[\w-]+\.[\w-]+\.[\w-]+$/)
  t.notMatch(sealed, /secret-token-value/)
  t.not(seal(keyring, 'secret-token-value', 'account/video/abc'), sealed, 'a fresh IV every time')
  t.equal(open(keyring, sealed, 'account/video/abc'), 'secret-token-value')
})

t.test('a value moved to another key, tampered with, or sealed with an unknown key does not open', async (t) => {
  const keyring = parseKeyring(`k1:${key()}`)
  const sealed = seal(keyring, 'token', 'account/video/abc')
  t.throws(() => open(keyring, sealed, 'account/video/other'), 'bound to its key')
  const parts = sealed.split('.')
  const flipped = Buffer.from(parts[4] as string, 'base64url')
  flipped[0] = (flipped[0] as number) ^ 1
  t.throws(
    () => open(keyring, [...parts.slice(0, 4), flipped.toString('base64url')].join('.'), 'account/video/abc'),
    'tampered'
  )
  t.throws(() => open(parseKeyring(`k2:${key()}`), sealed, 'account/video/abc'), { message: /unknown key id "k1"/ })
  t.throws(() => open(keyring, 'garbage', 'account/video/abc'), { message: /not a sealed value/ })
})

t.test('the GCM tag is pinned to 16 bytes: a value with a shorter tag is refused as tampered', async (t) => {
  const keyring = parseKeyring(`k1:${key()}`)
  const parts = seal(keyring, 'token', 'account/video/abc').split('.')
  const tag = Buffer.from(parts[3] as string, 'base64url')
  t.equal(tag.length, 16)
  for (const length of [4, 8, 12, 15]) {
    const truncated = [...parts.slice(0, 3), tag.subarray(0, length).toString('base64url'), parts[4]].join('.')
    t.throws(() => open(keyring, truncated, 'account/video/abc'), { message: /tag/ }, `a ${length}-byte tag`)
  }
  const longer = [...parts.slice(0, 3), Buffer.concat([tag, Buffer.from([0])]).toString('base64url'), parts[4]]
  t.throws(() => open(keyring, longer.join('.'), 'account/video/abc'), { message: /tag/ }, 'a 17-byte tag')
})

t.test('rotation: new values use the first key; values sealed with an older key still open', async (t) => {
  const oldKey = key()
  const before = parseKeyring(`old:${oldKey}`)
  const sealed = seal(before, 'token', 'k')
  const after = parseKeyring(`new:${key()},old:${oldKey}`)
  t.equal(after.currentKid, 'new')
  t.equal(open(after, sealed, 'k'), 'token')
  t.match(seal(after, 'token', 'k'), /^v1\.new\./)
})

t.test('bad key rings are refused with a reason', async (t) => {
  t.throws(() => parseKeyring('nokid'), { message: /kid:base64key/ })
  t.throws(() => parseKeyring(`k1:${randomBytes(16).toString('base64')}`), { message: /must be 32 bytes/ })
  t.throws(() => parseKeyring(`k1:${key()},k1:${key()}`), { message: /appears twice/ })
})

t.test('rotateKeyring: a new ring seals with its own key and keeps the replaced keys to open old values', async (t) => {
  const first = parseKeyring(`k1:${key()}`)
  const sealed = seal(first, 'token', 'k')
  const second = rotateKeyring(parseKeyring(`k2:${key()}`), first)
  t.equal(second.currentKid, 'k2')
  t.match(seal(second, 'token', 'k'), /^v1\.k2\./)
  t.equal(open(second, sealed, 'k'), 'token', 'a value sealed before the rotation still opens')
  const sameId = rotateKeyring(parseKeyring(`k2:${key()}`), second)
  t.not(sameId.keys.get('k2'), second.keys.get('k2'), 'a key id listed again takes its new key')
  let ring = second
  for (const kid of ['k3', 'k4', 'k5', 'k6']) ring = rotateKeyring(parseKeyring(`${kid}:${key()}`), ring)
  t.same([...ring.keys.keys()], ['k6', 'k5', 'k4', 'k3'], 'at most four keys, newest first')
  t.same([...rotateKeyring(first, undefined).keys.keys()], ['k1'], 'the first ring is itself')
})
