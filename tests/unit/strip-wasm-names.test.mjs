// The build's removal of the Wasm name section: only that custom section goes, every other
// section is kept byte for byte, and the module stays loadable.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { stripNames } from '../../scripts/strip-wasm-names.mjs';

const header = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00];
const custom = (name, payload) => {
  const body = [name.length, ...Buffer.from(name), ...payload];
  return [0x00, body.length, ...body];
};
// A type section with one `() -> ()` function type.
const types = [0x01, 0x04, 0x01, 0x60, 0x00, 0x00];

test('only the name section is removed and the module still compiles', async () => {
  const module = Buffer.from([...header, ...types, ...custom('name', [0x01, 0x02, 0x03]), ...custom('producers', [0x00])]);
  const { bytes, removed } = stripNames(module);
  assert.equal(removed, 2 + 1 + 4 + 3);
  assert.deepEqual([...bytes], [...header, ...types, ...custom('producers', [0x00])]);
  await WebAssembly.compile(bytes);
});

test('a module without a name section is unchanged', () => {
  const module = Buffer.from([...header, ...types]);
  const { bytes, removed } = stripNames(module);
  assert.equal(removed, 0);
  assert.deepEqual([...bytes], [...module]);
});
