// Rate limits through Miniflare's simulation of the Workers Rate Limiting binding: a caller's
// requests past its limit are refused 429 rate_limited with Retry-After, before any body byte,
// other callers go on; requests without a token count against the client address; a
// deployment without the bindings limits nothing.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startGateway } from './support/gateway.mjs';
import { call, send, tokenFor, assertProblem } from './support/client.mjs';

const CALLER_LIMIT = 3;
const ADDRESS_LIMIT = 2;
let gw;
before(async () => {
  gw = await startGateway({ URL_SIGNING_SECRET: 'r'.repeat(40) }, {
    miniflare: {
      ratelimits: {
        RATE_LIMIT_CALLERS: { simple: { limit: CALLER_LIMIT, period: 60 } },
        RATE_LIMIT_ADDRESSES: { simple: { limit: ADDRESS_LIMIT, period: 60 } },
      },
    },
  });
});
after(() => gw?.close());

test('a caller past its limit is refused 429 rate_limited with Retry-After before its body, and other callers go on', async () => {
  const carol = tokenFor('carol');
  for (let i = 0; i < CALLER_LIMIT; i++) assert.equal((await call(gw, 'GET', '/files', { token: carol })).status, 200);
  const refused = await call(gw, 'GET', '/files', { token: carol });
  assertProblem(assert, refused, 429, 'rate_limited');
  const retry = Number(refused.headers.get('retry-after'));
  assert.ok(Number.isInteger(retry) && retry >= 1 && retry <= 60, `Retry-After: ${refused.headers.get('retry-after')}`);
  // An upload is refused from its headers alone: the answer comes while the body is unsent.
  const early = await send(gw, 'PUT', '/files/carol/big.bin', { token: carol, headers: { 'content-type': 'text/plain' }, length: 10_000_000 });
  assertProblem(assert, early, 429, 'rate_limited');
  assert.match(early.headers.get('retry-after'), /^\d+$/);
  assert.equal(await gw.object('carol/big.bin'), null);
  // A fresh token for the same caller counts against the same limit.
  assertProblem(assert, await call(gw, 'GET', '/files', { token: tokenFor('carol', { jti: 'another' }) }), 429, 'rate_limited');
  const dave = tokenFor('dave');
  const put = await call(gw, 'PUT', '/files/dave/a.txt', { token: dave, body: 'hello', headers: { 'content-type': 'text/plain' } });
  assert.equal(put.status, 201, put.text);
});

test('requests without a token count against the client address, each address its own', async () => {
  const form = (ip) => call(gw, 'POST', '/form', {
    headers: { 'cf-connecting-ip': ip, 'content-type': 'multipart/form-data; boundary=x' },
    body: '--x--\r\n',
  });
  for (let i = 0; i < ADDRESS_LIMIT; i++) assert.notEqual((await form('192.0.2.10')).status, 429);
  assertProblem(assert, await form('192.0.2.10'), 429, 'rate_limited');
  assert.notEqual((await form('192.0.2.11')).status, 429, 'another address was limited');
});

test('without the bindings nothing is limited', async () => {
  const open = await startGateway();
  try {
    const erin = tokenFor('erin');
    for (let i = 0; i < CALLER_LIMIT * 3; i++) assert.equal((await call(open, 'GET', '/files', { token: erin })).status, 200);
  } finally {
    await open.close();
  }
});
