// A malformed configuration value is a 500 config_error naming the variable, at the first
// request, never silently ignored.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startGateway } from './support/gateway.mjs';
import { call, tokenFor, assertProblem } from './support/client.mjs';

for (const [name, vars] of [
  ['MAX_UPLOAD_BYTES', { MAX_UPLOAD_BYTES: 'lots' }],
  ['JWT_SECRET', { JWT_SECRET: 'short' }],
  ['STORAGE', { STORAGE: 'floppy' }],
  ['JWT_PUBLIC_KEYS', { JWT_PUBLIC_KEYS: '{"keys": [{"kty": "RSA"}]}' }],
  ['WEBHOOK_SECRET', { WEBHOOK_URL: 'https://hooks.example/x' }],
  ['CORS_ORIGINS', { CORS_ORIGINS: 'not a url' }],
]) {
  test(`a malformed ${name} answers 500 config_error naming it`, async () => {
    const gw = await startGateway(vars);
    try {
      const res = await call(gw, 'PUT', '/files/alice/x', { token: tokenFor('alice'), body: 'x' });
      assertProblem(assert, res, 500, 'config_error');
      assert.match(res.json.detail, new RegExp(name));
    } finally {
      await gw.close();
    }
  });
}
