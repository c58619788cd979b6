#!/usr/bin/env node
// Prints a development JWT (HS256) signed with JWT_SECRET from .dev.vars (or the
// environment). Usage:
//   npm run token -- --sub alice [--scope "read write"] [--ttl 3600] [--prefix alice/]
//                    [--key alice/one.txt] [--max-size 1048576] [--content-types image/*,text/plain]
//                    [--quota-bytes 1073741824] [--quota-objects 10000]
import fs from 'node:fs';
import { parseArgs } from 'node:util';
import { sign, claimsFor } from './lib/jwt.mjs';

const { values } = parseArgs({
  options: {
    sub: { type: 'string' },
    scope: { type: 'string' },
    ttl: { type: 'string', default: '3600' },
    prefix: { type: 'string' },
    key: { type: 'string' },
    'max-size': { type: 'string' },
    'content-types': { type: 'string' },
    'quota-bytes': { type: 'string' },
    'quota-objects': { type: 'string' },
    iss: { type: 'string' },
    aud: { type: 'string' },
  },
});

function secret() {
  if (process.env.JWT_SECRET) return process.env.JWT_SECRET;
  if (fs.existsSync('.dev.vars')) {
    const line = fs.readFileSync('.dev.vars', 'utf8').split('\n').find((l) => l.startsWith('JWT_SECRET='));
    if (line) return line.slice('JWT_SECRET='.length).trim();
  }
  console.error('No JWT_SECRET: run `npm run dev` once (it creates .dev.vars) or set JWT_SECRET.');
  process.exit(1);
}

if (!values.sub) {
  console.error('usage: npm run token -- --sub alice [--scope "read write delete list"] [--ttl 3600] ...');
  process.exit(2);
}
const ttl = Number(values.ttl);
if (!Number.isInteger(ttl) || ttl <= 0) {
  console.error('--ttl must be a positive number of seconds');
  process.exit(2);
}
const extra = {};
if (values.scope) extra.scope = values.scope;
if (values.prefix !== undefined) extra.prefix = values.prefix;
if (values.key) extra.key = values.key;
if (values['max-size']) extra.max_size = Number(values['max-size']);
if (values['content-types']) extra.content_types = values['content-types'].split(',').map((s) => s.trim());
if (values['quota-bytes'] || values['quota-objects']) {
  extra.quota = {};
  for (const [flag, field] of [['quota-bytes', 'bytes'], ['quota-objects', 'objects']]) {
    if (values[flag] === undefined) continue;
    const n = Number(values[flag]);
    if (!Number.isSafeInteger(n) || n < 0) {
      console.error(`--${flag} must be a whole number`);
      process.exit(2);
    }
    extra.quota[field] = n;
  }
}
if (values.iss) extra.iss = values.iss;
if (values.aud) extra.aud = values.aud;
console.log(sign(claimsFor(values.sub, { ttl, ...extra }), { alg: 'HS256', key: secret() }));
