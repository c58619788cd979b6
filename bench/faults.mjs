#!/usr/bin/env node
// The soak run (`npm run soak`): the fault suite's load (tests/support/load.mjs), longer and
// over several seeds, on the R2 binding and on S3 through the fault-injecting proxy with the
// S3 server killed and restarted mid-run; then the sweep and invariants 1–8. Writes
// bench/faults.md and exits non-zero on any violation.
//
// SOAK_OPS (default 1500) operations per run, SOAK_SEEDS (default 3) runs per backend.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startFaultedGateway, loadAndVerify } from '../tests/support/faultrun.mjs';
import { tokenFor } from '../tests/support/client.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const OPS = Number(process.env.SOAK_OPS || 1500);
const SEEDS = Number(process.env.SOAK_SEEDS || 3);
const token = tokenFor('alice', { ttl: 4 * 3600 });

async function once(backend, seed) {
  const setup = await startFaultedGateway(backend, seed);
  try {
    const r = await loadAndVerify(setup, token, { ops: OPS, seed });
    return { backend, seed, seconds: r.seconds, counts: r.counts, faults: r.faults, sweep: r.sweep, violations: r.violations };
  } finally {
    await setup.close();
  }
}

const runs = [];
for (const backend of ['r2', 's3']) {
  for (let seed = 1; seed <= SEEDS; seed++) {
    const r = await once(backend, seed * 101);
    runs.push(r);
    const bad = Object.values(r.violations).flat().length;
    console.log(`[soak] ${backend} seed ${r.seed}: ${OPS} operations in ${r.seconds.toFixed(1)} s, ${bad} violations`);
  }
}

const sum = (rs, f) => rs.reduce((n, r) => n + f(r), 0);
const acknowledged = (c) => Object.entries(c).filter(([k]) => / 20[014]/.test(k)).reduce((n, [, v]) => n + v, 0);
const byCode = (rs) => {
  const out = {};
  for (const r of rs) for (const [k, v] of Object.entries(r.counts)) if (!/ 20[014]/.test(k)) {
    const code = k.replace(/^\S+ /, '').replace(/^0$/, 'no answer (the client had gone)');
    out[code] = (out[code] || 0) + v;
  }
  return Object.entries(out).sort((a, b) => b[1] - a[1]).map(([k, v]) => `${k}: ${v}`).join(', ');
};

let md = `# Integrity under load and faults\n\n`;
md += `Written by \`npm run soak\` (\`bench/faults.mjs\`) on ${new Date().toISOString().slice(0, 10)}. Each run: ${OPS} mixed operations at `;
md += `concurrency 64 (PUTs of 0–64 KiB with right and wrong digests, If-None-Match races, overwrites and deletes of six hot keys, `;
md += `client aborts and short bodies, 5 MiB multipart uploads with retried parts, tus uploads in unaligned chunks resumed from the server's offset after a failure; \`tests/support/load.mjs\`). On S3 the Worker `;
md += `talks to s3s-fs through a proxy that faults 15% of requests (delays, 500/503 refusals, connections cut mid-body, answers `;
md += `lost after the store applied the write), and s3s-fs is killed and restarted after 40% of the operations. Then faults stop, `;
md += `every journal entry and multipart upload is backdated so it is due, the sweep runs, and invariants 1–8 `;
md += `(\`tests/support/invariants.mjs\`, docs/architecture.md) are checked against the bucket, D1 and what the gateway serves.\n\n`;
md += `| backend | runs | operations | acknowledged (2xx) | refused | faults injected | left for the sweep (unrecorded objects / journal entries) | sweep runs | violations |\n|---|---|---|---|---|---|---|---|---|\n`;
for (const backend of ['r2', 's3']) {
  const rs = runs.filter((r) => r.backend === backend);
  const ack = sum(rs, (r) => acknowledged(r.counts));
  const all = sum(rs, (r) => Object.values(r.counts).reduce((a, b) => a + b, 0));
  const faults = rs[0].faults ? sum(rs, (r) => Object.values(r.faults).reduce((a, b) => a + b, 0)) : 0;
  md += `| ${backend === 's3' ? 'S3 (s3s-fs, faulted)' : 'R2 binding'} | ${rs.length} | ${rs.length * OPS} | ${ack} | ${all - ack} | ${faults} | ${sum(rs, (r) => r.sweep.unnamedBefore)} / ${sum(rs, (r) => r.sweep.dueBefore)} | ${sum(rs, (r) => r.sweep.runs)} | ${sum(rs, (r) => Object.values(r.violations).flat().length)} |\n`;
}
md += `\n"Acknowledged" and "refused" count HTTP answers (one operation can make several requests: an overwrite, a race of four, a multipart upload). Refused answers by code:\n\n`;
for (const backend of ['r2', 's3']) md += `- ${backend}: ${byCode(runs.filter((r) => r.backend === backend))}\n`;
md += `\nViolations by check (all runs): ${JSON.stringify(Object.fromEntries(Object.keys(runs[0].violations).map((k) => [k, sum(runs, (r) => r.violations[k].length)])))}\n`;
md += `\nThe same load, shorter (300 operations, one seed), runs in \`npm test\` as \`tests/faults.test.mjs\`, which also plants one violation per check and shows that each check reports it.\n`;
fs.writeFileSync(path.join(root, 'bench/faults.md'), md);
console.log(md);
const total = sum(runs, (r) => Object.values(r.violations).flat().length);
if (total > 0) {
  for (const r of runs) for (const [k, v] of Object.entries(r.violations)) if (v.length) console.error(`${r.backend} seed ${r.seed} ${k}:`, v.slice(0, 10));
  process.exit(1);
}
