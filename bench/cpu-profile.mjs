#!/usr/bin/env node
// Where a small upload's Worker CPU goes, by the runtime's own sampling profiler: the built
// gateway in Miniflare with the V8 inspector on, a CPU profile taken (Chrome DevTools
// protocol, `Profiler.start`/`stop`) while BENCH_PROFILE_UPLOADS 4 KiB PUTs run at concurrency
// 16 against a RAM-backed s3s-fs with the EVENTS queue bound, as wrangler.toml binds it. Self
// time is summed per function (Wasm functions by their names, JavaScript by function and file)
// and then per area of the code. Needs a build with function names:
// `KEEP_WASM_NAMES=1 bash scripts/build.sh` first (the ordinary build strips them). Writes
// bench/cpu-profile.md.
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { WebSocket } from 'undici';
import { startS3 } from '../tests/support/s3server.mjs';
import { sign, claimsFor, randomSecret } from '../scripts/lib/jwt.mjs';
import { put } from './lib/measure.mjs';
import { EVENTS_QUEUE, startWorker } from './lib/worker.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const UPLOADS = Number(process.env.BENCH_PROFILE_UPLOADS || 3000);
const CONCURRENCY = 16;
const INSPECTOR_PORT = 9329;

/** Where a function's self time is counted: the first area whose pattern its name matches. */
const AREAS = [
  ['SigV4 signing (aws-sigv4, in Wasm)', /sigv4|aws_sig|aws_smithy|canonical|signing/i],
  ['hashing in Wasm (SHA-256, HMAC)', /sha2|sha256|hmac|digest|compress256/i],
  ['token verification (core)', /auth::|idp::|jws|verify/i],
  ['JSON in Wasm (serde_json)', /serde_json|serde::/i],
  ['D1 calls (binding, JS side)', /d1|D1Database|prepare|batch/i],
  ['queue send (binding, JS side)', /queue|send/i],
  ['fetch to the store (JS side)', /fetch/i],
  ['wasm-bindgen glue (calls and copies across the boundary)', /wasm_bindgen|__wbg|__wbindgen|passStringToWasm|getStringFromWasm|getArrayU8|addHeapObject|takeObject|getObject/i],
  ['allocation in Wasm', /alloc|dlmalloc|realloc|memcpy|memmove|memset/i],
  ['other Wasm (gateway code)', /wasm-function|gateway_core|upload_gateway|\.wasm/i],
  ['runtime (garbage collection, program, idle excluded)', /\(garbage collector\)|\(program\)/],
];

async function inspector() {
  for (let i = 0; i < 50; i++) {
    try {
      const list = await (await fetch(`http://127.0.0.1:${INSPECTOR_PORT}/json`)).json();
      const target = list.find((t) => t.webSocketDebuggerUrl && /gateway|core:user/.test(`${t.title} ${t.id} ${t.url}`)) || list[0];
      if (target) return target.webSocketDebuggerUrl;
    } catch {}
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('no inspector target');
}

function session(url) {
  const ws = new WebSocket(url);
  let id = 0;
  const pending = new Map();
  ws.addEventListener('message', (e) => {
    const msg = JSON.parse(e.data);
    if (msg.id && pending.has(msg.id)) {
      pending.get(msg.id)(msg);
      pending.delete(msg.id);
    }
  });
  const ready = new Promise((r) => ws.addEventListener('open', r));
  return {
    ready,
    send: (method, params = {}) => new Promise((resolve) => { id += 1; pending.set(id, resolve); ws.send(JSON.stringify({ id, method, params })); }),
    close: () => ws.close(),
  };
}

const ramDir = fs.existsSync('/dev/shm') ? '/dev/shm' : os.tmpdir();
const s3 = await startS3({ dir: ramDir });
const secret = randomSecret();
const token = sign(claimsFor('bench', { ttl: 86400 }), { key: secret });
let w;
try {
  w = await startWorker(path.join(root, 'build/index.js'), { ...s3.vars, JWT_SECRET: secret }, { ...EVENTS_QUEUE, inspectorPort: INSPECTOR_PORT });
  const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/octet-stream' };
  const agent = new http.Agent({ keepAlive: true, maxSockets: CONCURRENCY });
  const run = async (n, prefix) => {
    let next = 0;
    await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
      while (next < n) {
        const i = next++;
        const res = await put(`${w.url}/files/bench/${prefix}-${i}.bin`, 4096, headers, agent);
        if (res.status !== 201) throw new Error(`${res.status} ${res.text}`);
      }
    }));
  };
  await run(200, 'warm');
  const s = session(await inspector());
  await s.ready;
  await s.send('Profiler.enable');
  await s.send('Profiler.setSamplingInterval', { interval: 100 });
  await s.send('Profiler.start');
  await run(UPLOADS, 'profiled');
  await new Promise((r) => setTimeout(r, 3000)); // the consumer's share
  const { result } = await s.send('Profiler.stop');
  s.close();
  const profile = result.profile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map();
  const dt = profile.timeDeltas;
  profile.samples.forEach((nodeId, i) => {
    const node = byId.get(nodeId);
    const f = node.callFrame;
    const name = `${f.functionName || '(anonymous)'} ${f.url ? path.basename(f.url) : ''}`.trim();
    self.set(name, (self.get(name) || 0) + (dt[i] || 0));
  });
  const idle = self.get('(idle)') || 0;
  self.delete('(idle)');
  const total = [...self.values()].reduce((a, b) => a + b, 0);
  const areas = new Map(AREAS.map(([a]) => [a, 0]));
  areas.set('JavaScript and everything else', 0);
  for (const [name, us] of self) {
    const area = AREAS.find(([, re]) => re.test(name))?.[0] || 'JavaScript and everything else';
    areas.set(area, areas.get(area) + us);
  }
  const perUpload = (us) => (us / 1000 / UPLOADS).toFixed(3);
  const top = [...self].sort((a, b) => b[1] - a[1]).slice(0, 25);
  const text = `# Where a small upload's Worker CPU goes (V8 CPU profile)

Run ${new Date().toISOString()} with \`node bench/cpu-profile.mjs\`: ${UPLOADS} PUTs of 4 KiB at concurrency ${CONCURRENCY} to the built gateway (EVENTS queue bound, as wrangler.toml binds it; its consumer runs in the same isolate), RAM-backed s3s-fs; the runtime's sampling profiler (100 µs interval) over the uploads and 3 s after, idle time left out. Sampled CPU in the isolate: ${(total / 1000).toFixed(0)} ms, ${perUpload(total)} ms per upload (the isolate's JavaScript and Wasm; the runtime's own C++ work for I/O is not sampled here, so this is less than the process CPU in bench/results.md).

| area | ms per upload | share |
|---|---|---|
${[...areas].filter(([, us]) => us > 0).sort((a, b) => b[1] - a[1]).map(([a, us]) => `| ${a} | ${perUpload(us)} | ${((100 * us) / total).toFixed(1)}% |`).join('\n')}

The 25 functions with the most self time:

| function | ms per upload | share |
|---|---|---|
${top.map(([n, us]) => `| \`${n.replace(/\|/g, '\\|').slice(0, 90)}\` | ${perUpload(us)} | ${((100 * us) / total).toFixed(1)}% |`).join('\n')}

Areas are assigned by function name (\`AREAS\` in the script), so a Wasm function without a telling name counts as "other Wasm".
`;
  fs.writeFileSync(path.join(root, 'bench/cpu-profile.md'), text);
  console.log(text, `idle ${(idle / 1000).toFixed(0)} ms`);
} finally {
  await w?.mf.dispose();
  s3.close();
}
