// The lookup over aws4fetch: SigV4 with WebCrypto, the DynamoDB JSON protocol by hand (the same
// shape of work dynauth does in Rust).
import { AwsClient } from 'aws4fetch';

import { lookupHandler } from './lookup.js';

export function unmarshall(v) {
  if ('S' in v) return v.S;
  if ('N' in v) return Number(v.N);
  if ('BOOL' in v) return v.BOOL;
  if ('NULL' in v) return null;
  if ('L' in v) return v.L.map(unmarshall);
  if ('M' in v) return Object.fromEntries(Object.entries(v.M).map(([k, x]) => [k, unmarshall(x)]));
  throw new Error(`unsupported attribute ${Object.keys(v)}`);
}

export function marshall(v) {
  if (typeof v === 'string') return { S: v };
  if (typeof v === 'number') return { N: String(v) };
  if (typeof v === 'boolean') return { BOOL: v };
  return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, marshall(x)]));
}

/** The DynamoDB client of the aws4fetch peers: { get, update, call } (call: any operation,
 *  DynamoDB JSON in and out), signed with SigV4 over Web Crypto. */
export function awsDb(env) {
  const aws = new AwsClient({
    accessKeyId: env.AWS_ACCESS_KEY_ID,
    secretAccessKey: env.AWS_SECRET_ACCESS_KEY,
    region: env.AWS_REGION,
    service: 'dynamodb',
    retries: 3,
  });
  async function call(op, body) {
    const res = await aws.fetch(env.DYNAMODB_ENDPOINT, {
      method: 'POST',
      headers: { 'content-type': 'application/x-amz-json-1.0', 'x-amz-target': `DynamoDB_20120810.${op}` },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(3000),
    });
    const out = await res.json();
    if (!res.ok) throw new Error(`${op}: ${res.status} ${out.__type}`);
    return out;
  }
  return {
    call,
    async get(key, consistent) {
      const out = await call('GetItem', { TableName: env.DYNAMODB_TABLE, Key: marshall(key), ConsistentRead: consistent });
      return out.Item === undefined ? undefined : unmarshall({ M: out.Item });
    },
    update(p) {
      return call('UpdateItem', { ...p, Key: marshall(p.Key), ExpressionAttributeValues: marshall(p.ExpressionAttributeValues) });
    },
  };
}

export default { fetch: lookupHandler(awsDb) };
