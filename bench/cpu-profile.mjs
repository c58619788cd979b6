#!/usr/bin/env node
// Where a small upload's Worker CPU goes, by the runtime's own sampling profiler: the built
// gateway in Miniflare with the V8 inspector on, a CPU profile taken (Chrome DevTools
// protocol, `Profiler.start`/`stop`) while BENCH_PROFILE_UPLOADS 4 KiB PUTs run at concurrency
// 16 against a RAM-backed s3s-fs with the EVENTS queue bound, as wrangler.toml binds it; then
// the same for the queue-sending JavaScript reference (bench/reference-worker.js) and for the
// same job in Rust through workers-rs (bench/floor-worker, built with its names). Only the
// Worker's own isolate is sampled: the D1 and queue simulators, which run in other isolates of
// the same process, are left out, as they are not the Worker's CPU on the platform. Self time
// is summed per function (Wasm functions by their names, JavaScript by function and file) and
// then per area of the code. Needs a build with function names:
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
import { EVENTS_QUEUE, referenceBundle, startWorker } from './lib/worker.mjs';
import { buildFloor } from './lib/floor.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const UPLOADS = Number(process.env.BENCH_PROFILE_UPLOADS || 3000);
const CONCURRENCY = 16;
const INSPECTOR_PORT = 9329;
// BENCH_PROFILE_BUILD=<build dir inside the repository> profiles another build (default build/).
const BUILD = path.resolve(process.env.BENCH_PROFILE_BUILD || path.join(root, 'build'));

const RUNTIME = 'runtime (garbage collection, program, idle excluded)';
/** Where a function's self time is counted: the first area whose pattern its name matches. */
const AREAS = [
  ['SigV4 signing (aws-sigv4 in Wasm; aws4fetch in the reference)', /sigv4|aws_sig|aws_smithy|canonical|signing|AwsV4Signer|AwsClient|signature|encodeRfc3986|buf2hex|hmac aws4fetch|hash aws4fetch/i],
  ['token verification (core; WebCrypto HMAC in the reference)', /auth::|idp::|jws|verify|b64url|importKey/i],
  ['hashing in Wasm (SHA-256, HMAC)', /sha2|sha256|hmac|digest|compress256/i],
  ['JSON in Wasm (serde_json)', /serde_json|serde::/i],
  ['D1 calls (binding, JS side)', /d1|D1Database|prepare|batch/i],
  ['queue send (binding, JS side)', /queue|send/i],
  ['fetch to the store (JS side)', /fetch/i],
  ['wasm-bindgen glue (calls and copies across the boundary)', /wasm_bindgen|__wbg|__wbindgen|passStringToWasm|getStringFromWasm|getArrayU8|addHeapObject|takeObject|getObject/i],
  ['allocation in Wasm', /alloc|dlmalloc|realloc|memcpy|memmove|memset/i],
  ['other Wasm (gateway code)', /wasm-function|gateway_core|upload_gateway|\.wasm/i],
  [RUNTIME, /\(garbage collector\)|\(program\)/],
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
const reference = await referenceBundle();

/** Self time per function name (µs) in the isolate running `script`, over UPLOADS uploads. */
async function profileOf(script) {
  const w = await startWorker(script, { ...s3.vars, JWT_SECRET: secret }, { ...EVENTS_QUEUE, inspectorPort: INSPECTOR_PORT });
  try {
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
    agent.destroy();
    const profile = result.profile;
    // The raw profile, for Chrome DevTools or another look: bench/tmp/<worker>.cpuprofile.
    fs.writeFileSync(path.join(root, 'bench/tmp', `${path.basename(path.dirname(script))}-${path.basename(script, path.extname(script))}.cpuprofile`), JSON.stringify(profile));
    const byId = new Map(profile.nodes.map((n) => [n.id, n]));
    const self = new Map();
    profile.samples.forEach((nodeId, i) => {
      const f = byId.get(nodeId).callFrame;
      const name = `${f.functionName || '(anonymous)'} ${f.url ? path.basename(f.url) : ''}`.trim();
      self.set(name, (self.get(name) || 0) + (profile.timeDeltas[i] || 0));
    });
    self.delete('(idle)');
    return self;
  } finally {
    await w.mf.dispose();
  }
}

/** Self time summed per area (µs). */
function byArea(self) {
  const areas = new Map([...AREAS.map(([a]) => [a, 0]), ['JavaScript and everything else', 0]]);
  for (const [name, us] of self) {
    const area = AREAS.find(([, re]) => re.test(name))?.[0] || 'JavaScript and everything else';
    areas.set(area, areas.get(area) + us);
  }
  return areas;
}

let gateway;
let floor;
let ref;
try {
  gateway = await profileOf(path.join(BUILD, 'index.js'));
  floor = await profileOf(buildFloor());
  ref = await profileOf(reference);
} finally {
  s3.close();
}
const sum = (m) => [...m.values()].reduce((a, b) => a + b, 0);
const perUpload = (us) => (us / 1000 / UPLOADS).toFixed(3);
const [gTotal, fTotal, rTotal] = [sum(gateway), sum(floor), sum(ref)];
const [gAreas, fAreas, rAreas] = [byArea(gateway), byArea(floor), byArea(ref)];
const rows = [...gAreas.keys()].filter((a) => gAreas.get(a) + fAreas.get(a) + rAreas.get(a) > 0).sort((a, b) => gAreas.get(b) - gAreas.get(a));
const topOf = (self, total) => [...self].sort((a, b) => b[1] - a[1]).slice(0, 20)
  .map(([n, us]) => `| \`${n.replace(/\|/g, '\\|').slice(0, 90)}\` | ${perUpload(us)} | ${((100 * us) / total).toFixed(1)}% |`).join('\n');
const text = `# Where a small upload's Worker CPU goes (V8 CPU profile)

Run ${new Date().toISOString()} with \`node bench/cpu-profile.mjs\`: ${UPLOADS} PUTs of 4 KiB at concurrency ${CONCURRENCY} to the built gateway (with its function names), then to the same job as the reference in Rust (bench/floor-worker), then to the queue-sending JavaScript reference (bench/reference-worker.js), each with the EVENTS queue bound as wrangler.toml binds it (its consumer runs in the same isolate), into a RAM-backed s3s-fs; the runtime's sampling profiler (100 µs interval) over the uploads and 3 s after, idle time left out. Only the Worker's isolate is sampled: its JavaScript and Wasm, including the bindings' JavaScript side, but not the D1 and queue simulators (other isolates of the process, remote services on the platform) nor the runtime's C++ work for I/O. So these figures are lower than the process CPU of bench/results.md, and closer to what the platform bills the Worker. The profiler adds its own cost; compare the columns with each other rather than with bench/results.md.

Sampled CPU in the isolate per upload: this gateway ${perUpload(gTotal)} ms, the floor (the reference's job in Rust, bench/floor-worker) ${perUpload(fTotal)} ms, the reference ${perUpload(rTotal)} ms. The gateway against the floor: ${(gTotal / fTotal).toFixed(2)}×; the floor against the reference: ${(fTotal / rTotal).toFixed(2)}×. Without the runtime's own row (the VM's \`(program)\` time and garbage collection, which varies most from run to run under the profiler: for this gateway's module with names, between 0.26 and 1.0 ms per upload in otherwise alike runs): ${perUpload(gTotal - gAreas.get(RUNTIME))}, ${perUpload(fTotal - fAreas.get(RUNTIME))} and ${perUpload(rTotal - rAreas.get(RUNTIME))} ms, the gateway ${((gTotal - gAreas.get(RUNTIME)) / (fTotal - fAreas.get(RUNTIME))).toFixed(2)}× the floor.

| area | this gateway, ms per upload | the floor, ms per upload | reference, ms per upload |
|---|---|---|---|
${rows.map((a) => `| ${a} | ${perUpload(gAreas.get(a))} | ${perUpload(fAreas.get(a))} | ${perUpload(rAreas.get(a))} |`).join('\n')}
| **total** | **${perUpload(gTotal)}** | **${perUpload(fTotal)}** | **${perUpload(rTotal)}** |

The gateway's 20 functions with the most self time:

| function | ms per upload | share |
|---|---|---|
${topOf(gateway, gTotal)}

The reference's 20 functions with the most self time:

| function | ms per upload | share |
|---|---|---|
${topOf(ref, rTotal)}

Areas are assigned by function name (\`AREAS\` in the script), so a Wasm function without a telling name counts as "other Wasm", and the reference's own JavaScript mostly as "JavaScript and everything else".
`;
fs.writeFileSync(path.join(root, 'bench/cpu-profile.md'), text);
console.log(text);
