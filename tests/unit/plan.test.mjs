// Planning a multipart upload in public/client.js: the part size chosen against the gateway's
// limits (5 MiB minimum, 10,000 parts, its maximum), the sizes of the parts under R2's
// equal-size rule, and which parts a resume sends again.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { choosePartSize, planParts, partsToSend, UploadError } from '../../public/client.js';

const MIB = 1024 * 1024;
const GATEWAY = { part_size_min: 5 * MIB, part_size_max: 100 * MIB, max_parts: 10000 };

test('a wanted part size within the limits is kept', () => {
  assert.equal(choosePartSize(200 * MIB, 16 * MIB, GATEWAY), 16 * MIB);
});

test('a wanted part size under the 5 MiB minimum is raised to it', () => {
  assert.equal(choosePartSize(200 * MIB, 1 * MIB, GATEWAY), 5 * MIB);
  assert.equal(choosePartSize(200 * MIB, Number.NaN, GATEWAY), 5 * MIB, 'no usable wish is the minimum');
});

test('a fractional part size becomes a whole number of bytes', () => {
  assert.equal(choosePartSize(200 * MIB, 5.3 * MIB, GATEWAY), Math.ceil(5.3 * MIB));
});

test('a file that fills exactly 10,000 parts of the minimum keeps the minimum', () => {
  const size = 10000 * 5 * MIB;
  const chosen = choosePartSize(size, 5 * MIB, GATEWAY);
  assert.equal(chosen, 5 * MIB);
  assert.equal(planParts(size, chosen).count, 10000);
});

test('one byte more than 10,000 parts hold raises the part size to the next whole MiB', () => {
  const size = 10000 * 5 * MIB + 1;
  const chosen = choosePartSize(size, 5 * MIB, GATEWAY);
  assert.equal(chosen, 6 * MIB);
  assert.ok(planParts(size, chosen).count <= 10000);
});

test('the part size never exceeds the gateway maximum', () => {
  assert.equal(choosePartSize(900 * MIB, 512 * MIB, GATEWAY), 100 * MIB);
  // Needing more than the maximum per part to fit: capped, and then it does not fit.
  assert.throws(() => choosePartSize(10000 * 100 * MIB + 1, 16 * MIB, GATEWAY), (e) => e instanceof UploadError && e.code === 'bad_request' && /10000 parts/.test(e.detail));
});

test('the largest file that fits uses all 10,000 parts of the maximum', () => {
  const size = 10000 * 100 * MIB;
  assert.equal(planParts(size, choosePartSize(size, 16 * MIB, GATEWAY)).count, 10000);
});

test('a gateway whose maximum is under the minimum takes only a file that fits in one part', () => {
  const small = { ...GATEWAY, part_size_max: 4 * MIB };
  assert.equal(choosePartSize(3 * MIB, 16 * MIB, small), 4 * MIB);
  assert.equal(planParts(3 * MIB, 4 * MIB).count, 1);
  assert.throws(() => choosePartSize(4 * MIB + 1, 16 * MIB, small), (e) => e.code === 'bad_request' && /under its/.test(e.detail));
});

test('every part but the last has the same size and the last is never longer', () => {
  for (const [size, part] of [[12 * MIB + 5, 5 * MIB], [16 * MIB, 16 * MIB], [16 * MIB + 1, 16 * MIB], [1, 5 * MIB], [50 * MIB - 1, 5 * MIB]]) {
    const plan = planParts(size, part);
    const sizes = Array.from({ length: plan.count }, (_, i) => plan.sizeOf(i + 1));
    assert.equal(sizes.reduce((a, b) => a + b, 0), size, `sum for ${size}`);
    assert.ok(sizes.slice(0, -1).every((s) => s === part), `equal parts for ${size}`);
    assert.ok(sizes.at(-1) > 0 && sizes.at(-1) <= part, `last part for ${size}`);
    assert.deepEqual(sizes.map((_, i) => plan.offsetOf(i + 1)), sizes.map((_, i) => i * part));
  }
});

test('a file of whole parts ends with a full part, not an empty one', () => {
  const plan = planParts(15 * MIB, 5 * MIB);
  assert.equal(plan.count, 3);
  assert.equal(plan.sizeOf(3), 5 * MIB);
});

test('an empty file has no parts', () => {
  const plan = planParts(0, 5 * MIB);
  assert.equal(plan.count, 0);
  assert.deepEqual(partsToSend(plan, []), []);
});

test('a resume sends only the parts the gateway did not list', () => {
  const plan = planParts(12 * MIB + 5, 5 * MIB);
  const listed = [{ part_number: 1, size: 5 * MIB }, { part_number: 3, size: 2 * MIB + 5 }];
  assert.deepEqual(partsToSend(plan, listed), [2]);
  assert.deepEqual(partsToSend(plan, []), [1, 2, 3]);
});

test('a listed part of another size than planned is sent again', () => {
  const plan = planParts(12 * MIB + 5, 5 * MIB);
  const listed = [{ part_number: 1, size: 4 * MIB }, { part_number: 2, size: 5 * MIB }, { part_number: 3, size: 5 * MIB }];
  assert.deepEqual(partsToSend(plan, listed), [1, 3]);
});

test('a listed part beyond the last planned one is ignored', () => {
  const plan = planParts(10 * MIB, 5 * MIB);
  const listed = [{ part_number: 1, size: 5 * MIB }, { part_number: 2, size: 5 * MIB }, { part_number: 3, size: 5 * MIB }];
  assert.deepEqual(partsToSend(plan, listed), []);
});
