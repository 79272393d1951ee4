// Signatures for the admin Worker's half of src/host/edge/worker.rs (the edge Worker signs
// nothing, and its bundle has none of this): the runtime's Web Crypto, native code, for the crypto
// service of src/platform/signature.rs. The Rust core says what to sign or check with which key;
// each key is imported once per isolate and kept as a CryptoKey under the id the core gives it.
// An operation made here carries its own work (`run`), which edge.js's `drive` awaits as it
// awaits a fetch.

/** A crypto operation (src/platform/driver.rs `CryptoOp`); byte arrays are views of wasm memory:
 *  copied here, at once. */
export function cryptoOp(id, what, alg, keyId, format, key, data, signature) {
  const op = { what, alg, keyId, format, key: key.slice(), data: data.slice(), signature: signature.slice() };
  return { id, kind: 'run', run: () => performCrypto(op) };
}

/** Per JWS algorithm: how its keys are imported, how it signs, how its keys are made. */
const ALGS = {
  RS256: {
    key: { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' },
    sign: { name: 'RSASSA-PKCS1-v1_5' },
    generate: { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256', modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]) },
  },
  ES256: {
    key: { name: 'ECDSA', namedCurve: 'P-256' },
    sign: { name: 'ECDSA', hash: 'SHA-256' },
    generate: { name: 'ECDSA', namedCurve: 'P-256' },
  },
  EdDSA: { key: { name: 'Ed25519' }, sign: { name: 'Ed25519' }, generate: { name: 'Ed25519' } },
};

/** The isolate's imported keys: id -> Promise<CryptoKey>. Bounded: the oldest go first. */
const cryptoKeys = new Map();
const CRYPTO_KEYS_MAX = 1000;
const text = new TextDecoder();
const bytes = new TextEncoder();

function importKey(op, usage, extractable = false) {
  const data = op.format === 'jwk' ? JSON.parse(text.decode(op.key)) : op.key;
  return crypto.subtle.importKey(op.format, data, ALGS[op.alg].key, extractable, [usage]);
}

/** The key `op` names, imported the first time for `usage` and kept under its algorithm, usage
 *  and id (one id never stands for two keys). */
function keyOf(op, usage) {
  if (!op.keyId) throw new Error('a kept key needs an id');
  const name = `${op.alg}/${usage}/${op.keyId}`;
  let key = cryptoKeys.get(name);
  if (!key) {
    if (cryptoKeys.size >= CRYPTO_KEYS_MAX) cryptoKeys.delete(cryptoKeys.keys().next().value);
    key = importKey(op, usage);
    cryptoKeys.set(name, key);
    key.catch(() => cryptoKeys.delete(name));
  }
  return key;
}

async function performCrypto(op) {
  const alg = ALGS[op.alg];
  if (!alg) throw new Error(`unknown algorithm ${op.alg}`);
  switch (op.what) {
    case 'sign':
      return new Uint8Array(await crypto.subtle.sign(alg.sign, await keyOf(op, 'sign'), op.data));
    case 'verify': {
      const key = await keyOf(op, 'verify');
      // A signature Web Crypto will not even read (workerd throws on an Ed25519 one of the wrong
      // length) is no signature of this key: false, as for any other, never an error a stranger
      // could turn into a 500.
      const good = await crypto.subtle.verify(alg.sign, key, op.signature, op.data).catch(() => false);
      return new Uint8Array([good ? 1 : 0]);
    }
    case 'generate': {
      const pair = await crypto.subtle.generateKey(alg.generate, true, ['sign', 'verify']);
      return bytes.encode(JSON.stringify(await crypto.subtle.exportKey('jwk', pair.privateKey)));
    }
    case 'public': {
      const jwk = await crypto.subtle.exportKey('jwk', await importKey(op, 'sign', true));
      return bytes.encode(JSON.stringify(jwk));
    }
    default:
      throw new Error(`unknown crypto operation ${op.what}`);
  }
}

