// What the Uppy test pages share (bundled with each, never shipped): the test files' bytes, a
// user pausing and resuming, and the result handed back to the test.

/** File `f`'s `size` bytes, `(i * 7 + seed) & 255`: tests/support/page.mjs's `patterned`. */
export function patternedBlob(f) {
  const bytes = new Uint8Array(f.size);
  for (let i = 0; i < f.size; i++) bytes[i] = (i * 7 + f.seed) & 255;
  return new Blob([bytes], { type: f.type ?? '' });
}

/** Pauses each file once `bytes` of it are sent and resumes it shortly after, as a user
 * pressing pause and then resume would; the ids of the files paused. */
export function pauseOnceAfter(uppy, bytes) {
  const paused = new Set();
  if (!bytes) return paused;
  uppy.on('upload-progress', (file, progress) => {
    if (paused.has(file.id) || progress.bytesUploaded < bytes) return;
    paused.add(file.id);
    uppy.pauseResume(file.id);
    setTimeout(() => uppy.pauseResume(file.id), 500);
  });
  return paused;
}

/** An upload's result as the S3 tests read it: each file's name, key and URL, or its error. */
export function outcome(result) {
  return {
    successful: result.successful.map((f) => ({ name: f.name, key: f.response?.body?.key, location: f.response?.uploadURL })),
    failed: result.failed.map((f) => ({ name: f.name, error: String(f.error) })),
  };
}
