// Builds bench/floor-worker (the reference Worker's job in Rust through workers-rs, no gateway
// logic) with the same tools as scripts/build.sh, into bench/tmp/floor; answers its entry.
import { execFileSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

export function buildFloor() {
  const bin = path.join(os.homedir(), '.cargo/bin');
  const env = {
    ...process.env,
    PATH: `${bin}:${process.env.PATH}`,
    WASM_BINDGEN_BIN: path.join(bin, 'wasm-bindgen'),
    ESBUILD_BIN: path.join(root, 'node_modules/@esbuild/linux-x64/bin/esbuild'),
  };
  const out = path.join(root, 'bench/tmp/floor');
  execFileSync('worker-build', ['--release', '--out-dir', out], { cwd: path.join(root, 'bench/floor-worker'), env, stdio: 'ignore' });
  return path.join(out, 'index.js');
}
