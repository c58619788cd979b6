// The built gateway in its own workerd (Miniflare) for the benchmarks, with the R2 and D1
// simulators and the migrations applied. Its log lines are dropped: printing them would cost
// the shared cores.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';
import { Miniflare } from 'miniflare';
import { applyMigrations } from '../../tests/support/gateway.mjs';
import { newestWorkerd } from './measure.mjs';

/** The EVENTS queue as wrangler.toml sets it up: produced and consumed by the Worker itself. */
export const EVENTS_QUEUE = {
  queueProducers: { EVENTS: 'upload-events' },
  queueConsumers: { 'upload-events': { maxBatchSize: 10, maxBatchTimeout: 1, maxRetries: 10, deadLetterQueue: 'upload-events-dlq' } },
};

/** Starts `scriptPath` with `bindings` and more Miniflare `options`: { mf, url, pid }. */
export async function startWorker(scriptPath, bindings, options = {}) {
  const mf = new Miniflare({
    ...options,
    handleStructuredLogs: () => {},
    scriptPath,
    modules: true,
    modulesRules: [{ type: 'CompiledWasm', include: ['**/*.wasm'] }],
    compatibilityDate: '2025-09-01',
    r2Buckets: ['BUCKET'],
    d1Databases: ['DB'],
    bindings,
    port: 0,
  });
  const url = (await mf.ready).toString().replace(/\/$/, '');
  await applyMigrations(await mf.getD1Database('DB'));
  return { mf, url, pid: newestWorkerd() };
}

/** The JavaScript reference (bench/reference-worker.js) bundled with its dependency: its path. */
export async function referenceBundle() {
  const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
  const bundle = path.join(root, 'bench/tmp/reference-worker.mjs');
  fs.mkdirSync(path.dirname(bundle), { recursive: true });
  await esbuild.build({ entryPoints: [path.join(root, 'bench/reference-worker.js')], bundle: true, format: 'esm', platform: 'neutral', outfile: bundle, logLevel: 'error' });
  return bundle;
}
