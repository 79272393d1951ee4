// The lookup over the AWS SDK for JavaScript v3 (DynamoDB client + DocumentClient).
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';

import { lookupHandler } from './lookup.js';

export default {
  fetch: lookupHandler((env) => {
    const client = new DynamoDBClient({
      region: env.AWS_REGION,
      endpoint: env.DYNAMODB_ENDPOINT,
      credentials: { accessKeyId: env.AWS_ACCESS_KEY_ID, secretAccessKey: env.AWS_SECRET_ACCESS_KEY },
      maxAttempts: 4,
      requestHandler: { requestTimeout: 3000 },
    });
    const doc = DynamoDBDocumentClient.from(client);
    return {
      async get(Key, consistent) {
        const out = await doc.send(new GetCommand({ TableName: env.DYNAMODB_TABLE, Key, ConsistentRead: consistent }));
        return out.Item;
      },
      update: (p) => doc.send(new UpdateCommand(p)),
    };
  }),
};
