#!/usr/bin/env node
// Removes the `name` custom section (function names, about 210 KiB raw and 60 KiB gzipped of
// the module) from a built Wasm file, in place. The names serve only profilers and stack
// traces; `KEEP_WASM_NAMES=1 bash scripts/build.sh` keeps them (bench/cpu-profile.mjs needs
// them). Usage: node scripts/strip-wasm-names.mjs build/index_bg.wasm
import fs from 'node:fs';

/** Reads an unsigned LEB128 at `i`: [value, next index]. */
function leb(bytes, i) {
  let value = 0;
  let shift = 0;
  for (;;) {
    const b = bytes[i++];
    value += (b & 0x7f) * 2 ** shift;
    shift += 7;
    if (b < 0x80) return [value, i];
  }
}

/** The module without its `name` section, and how many bytes that section had. */
export function stripNames(bytes) {
  const kept = [bytes.subarray(0, 8)];
  let removed = 0;
  for (let i = 8; i < bytes.length;) {
    const [size, body] = leb(bytes, i + 1);
    const end = body + size;
    if (bytes[i] === 0) {
      const [len, at] = leb(bytes, body);
      if (Buffer.from(bytes.subarray(at, at + len)).toString() === 'name') {
        removed += end - i;
        i = end;
        continue;
      }
    }
    kept.push(bytes.subarray(i, end));
    i = end;
  }
  return { bytes: Buffer.concat(kept), removed };
}

if (process.argv[2]) {
  const file = process.argv[2];
  const { bytes, removed } = stripNames(fs.readFileSync(file));
  fs.writeFileSync(file, bytes);
  console.log(`[build] ${file}: name section removed (${removed} bytes)`);
}
