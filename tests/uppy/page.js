// The Uppy test page's script (bundled by tests/uppy.test.mjs, never shipped): @uppy/core with
// @uppy/tus, pointed at the gateway's /tus/ endpoint with nothing but the endpoint, a token
// header and a chunk size, as the README shows.
import Uppy from '@uppy/core';
import Tus from '@uppy/tus';
import { patternedBlob } from './files.js';

window.uploadWithUppy = async ({ endpoint, token, files, chunkSize }) => {
  const uppy = new Uppy({ autoProceed: false });
  uppy.use(Tus, { endpoint, headers: { Authorization: `Bearer ${token}` }, chunkSize, retryDelays: [0, 500, 1000, 2000] });
  for (const f of files) uppy.addFile({ name: f.name, type: 'application/octet-stream', data: patternedBlob(f), meta: { key: f.key } });
  const result = await uppy.upload();
  return {
    successful: result.successful.map((f) => f.meta.key),
    failed: result.failed.map((f) => ({ key: f.meta.key, error: String(f.error) })),
  };
};
