// Starts `wrangler dev` (the real dev server: local R2 and D1, static assets from public/)
// on a free port with the given variables and a fresh local state, applies the D1
// migrations, and waits until /healthz answers.
import { spawn, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fetchFresh } from './client.mjs';
import { freePort } from './s3server.mjs';

export async function startDev(vars, { port, args: extra = [] } = {}) {
  port ??= await freePort();
  const state = fs.mkdtempSync(path.join(os.tmpdir(), 'wrangler-state-'));
  const args = ['wrangler', 'dev', '--port', String(port), '--ip', '127.0.0.1', '--persist-to', state, ...Object.entries(vars).flatMap(([k, v]) => ['--var', `${k}:${v}`]), ...extra];
  const dev = spawn('npx', args, { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  const logs = [];
  dev.stdout.on('data', (d) => logs.push(d.toString()));
  dev.stderr.on('data', (d) => logs.push(d.toString()));
  const stop = async () => {
    try { process.kill(-dev.pid, 'SIGTERM'); } catch {}
    await new Promise((r) => setTimeout(r, 500));
    fs.rmSync(state, { recursive: true, force: true });
  };
  const url = `http://127.0.0.1:${port}`;
  try {
    for (let i = 0; ; i++) {
      try {
        const res = await fetchFresh(`${url}/healthz`);
        await res.arrayBuffer();
        if (res.ok) break;
      } catch {}
      if (i > 900) throw new Error(`wrangler dev did not start:\n${logs.join('')}`);
      await new Promise((r) => setTimeout(r, 200));
    }
    execFileSync('npx', ['wrangler', 'd1', 'migrations', 'apply', 'DB', '--local', '--persist-to', state], { stdio: 'ignore' });
  } catch (e) {
    await stop();
    throw e;
  }
  /** Runs SQL against the dev server's local D1 database; returns the result rows. */
  const sql = (command) => {
    const out = execFileSync('npx', ['wrangler', 'd1', 'execute', 'DB', '--local', '--persist-to', state, '--json', '--command', command], { encoding: 'utf8' });
    return JSON.parse(out)[0].results;
  };
  return { url, pid: dev.pid, port, logs, stop, sql };
}
