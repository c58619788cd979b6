import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startGateway, JWT_SECRET } from './support/gateway.mjs';
import { sign, claimsFor } from '../scripts/lib/jwt.mjs';

let gw;
before(async () => { gw = await startGateway(); });
after(() => gw?.close());

test('smoke', async () => {
  const token = sign(claimsFor('alice'), { key: JWT_SECRET });
  let res = await fetch(`${gw.url}/files/alice/hello.txt`, { method: 'PUT', headers: { authorization: `Bearer ${token}`, 'content-type': 'text/plain' }, body: 'hello world' });
  console.log(res.status, Object.fromEntries(res.headers), await res.text());
  res = await fetch(`${gw.url}/files/alice/hello.txt`, { headers: { authorization: `Bearer ${token}` } });
  console.log(res.status, Object.fromEntries(res.headers), await res.text());
  await new Promise((r) => setTimeout(r, 500));
  console.log(await gw.row('alice/hello.txt'));
  res = await fetch(`${gw.url}/files`, { headers: { authorization: `Bearer ${token}` } });
  console.log(res.status, await res.text());
});
