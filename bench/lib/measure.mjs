// Shared by the benchmark scripts: a fast upload client and /proc readings of a process.
import crypto from 'node:crypto';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';

const block = crypto.randomBytes(4 << 20);

/** PUTs `size` bytes (a random 4 MiB block, repeated) with a fixed Content-Length: the
 * answer's status, headers and text. */
export function put(url, size, headers, agent) {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: 'PUT', agent, headers: { ...headers, 'content-length': String(size) } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c) => { text += c; });
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, text }));
    });
    req.on('error', reject);
    let sent = 0;
    const pump = () => {
      while (sent < size) {
        const chunk = size - sent >= block.length ? block : block.subarray(0, size - sent);
        sent += chunk.length;
        if (!req.write(chunk)) return req.once('drain', pump);
      }
      req.end();
    };
    pump();
  });
}
/** The block `put` repeats, so a benchmark can compute the digests of what it sends. */
put.block = block;

/** Resident set size of `pid`, in MiB. */
export const rssMiB = (pid) => Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))[1]) / 1024;

/** User + system CPU seconds `pid` has used (clock ticks of 1/100 s). */
export function cpuSeconds(pid) {
  const f = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(f[11]) + Number(f[12])) / 100;
}

/** The workerd processes under `rootPid` (a `wrangler dev`): the proxy listening on `port`
 * and the runtime that executes the Worker. */
export function workerdProcesses(rootPid, port) {
  const rows = execFileSync('ps', ['-eo', 'pid=,ppid=']).toString().trim().split('\n').map((l) => l.trim().split(/\s+/).map(Number));
  const found = [];
  const walk = (p) => {
    for (const [c, pp] of rows) {
      if (pp !== p) continue;
      try {
        const cmd = fs.readFileSync(`/proc/${c}/cmdline`, 'utf8');
        if (cmd.includes('workerd')) found.push({ pid: c, role: cmd.includes(`:${port}`) ? 'proxy' : 'runtime' });
      } catch {}
      walk(c);
    }
  };
  walk(rootPid);
  return found;
}

/** GETs `url` with the bearer `token` and returns the SHA-256 (hex) of the streamed body. */
export async function downloadHash(url, token) {
  const res = await fetch(url, { headers: { authorization: `Bearer ${token}`, 'accept-encoding': 'identity' } });
  if (!res.ok) throw new Error(`download: ${res.status}`);
  const hash = crypto.createHash('sha256');
  for await (const chunk of res.body) hash.update(chunk);
  return hash.digest('hex');
}

/** The most recently started workerd process under this one (the Miniflare just started). */
export function newestWorkerd() {
  const rows = execFileSync('ps', ['-eo', 'pid=,ppid=,args=']).toString().trim().split('\n').map((l) => l.trim().match(/^(\d+)\s+(\d+)\s+(.*)$/)).filter(Boolean);
  const kids = (p) => rows.filter((r) => Number(r[2]) === p);
  const stack = [process.pid];
  const found = [];
  while (stack.length) for (const r of kids(stack.pop())) { stack.push(Number(r[1])); if (r[3].includes('workerd')) found.push(Number(r[1])); }
  return found.at(-1);
}
