// One fault-suite run, shared by tests/faults.test.mjs and the soak (bench/faults.mjs): a
// gateway (on S3 behind the fault-injecting proxy), the load with the store restarted after
// 40% of it, then faults off, the sweep, and the invariant checks.
import { startGateway } from './gateway.mjs';
import { startS3 } from './s3server.mjs';
import { startFaultProxy } from './faultproxy.mjs';
import { runLoad } from './load.mjs';
import { takeSnapshot, verify } from './invariants.mjs';
import { settle } from './settle.mjs';
import { startReceiver } from './receiver.mjs';

/**
 * A gateway for `backend`, its events posted to a local receiver (`hook`); on S3 its store is
 * s3s-fs behind the fault proxy.
 */
export async function startFaultedGateway(backend, seed) {
  const hook = await startReceiver();
  const webhook = { WEBHOOK_URL: `${hook.url}/hook`, WEBHOOK_SECRET: 'fault-run-webhook-secret' };
  if (backend !== 's3') {
    const gw = await startGateway(webhook, { backend });
    return { gw, hook, close: async () => { await gw.close(); hook.close(); } };
  }
  const s3 = await startS3();
  const proxy = await startFaultProxy(s3.endpoint, { rate: 0.15, seed });
  const gw = await startGateway({ S3_ENDPOINT: proxy.endpoint, ...webhook }, { backend, store: s3 });
  return { gw, s3, proxy, hook, close: async () => { await gw.close(); await proxy.close(); hook.close(); } };
}

/** Runs `ops` operations at concurrency 64 and checks the guarantees afterwards. */
export async function loadAndVerify({ gw, s3, proxy, hook }, token, { ops, seed, quota }) {
  const started = Date.now();
  let restarted;
  const { history, counts } = await runLoad(gw, token, {
    ops,
    concurrency: 64,
    seed,
    onProgress: (n) => { if (s3 && n === Math.floor(ops * 0.4)) restarted = s3.restart(1500); },
  });
  await restarted;
  proxy?.setFaults(false);
  const sweep = await settle(gw);
  const snap = await takeSnapshot(gw, [...history.keys.keys()], token, hook);
  history.quota = quota;
  return { history, counts, faults: proxy?.counts, sweep, snap, violations: verify(history, snap), seconds: (Date.now() - started) / 1000 };
}
