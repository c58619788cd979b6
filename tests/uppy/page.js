// The Uppy test page's script (bundled by tests/uppy.test.mjs, never shipped): @uppy/core with
// @uppy/tus, pointed at the gateway's /tus/ endpoint with nothing but the endpoint, a token
// header and a chunk size, as the README shows.
import Uppy from '@uppy/core';
import Tus from '@uppy/tus';

window.uploadWithUppy = async ({ endpoint, token, files, chunkSize }) => {
  const uppy = new Uppy({ autoProceed: false });
  uppy.use(Tus, { endpoint, headers: { Authorization: `Bearer ${token}` }, chunkSize, retryDelays: [0, 500, 1000, 2000] });
  for (const f of files) {
    const bytes = new Uint8Array(f.size);
    for (let i = 0; i < f.size; i++) bytes[i] = (i * 7 + f.seed) & 255;
    uppy.addFile({ name: f.name, type: 'application/octet-stream', data: new Blob([bytes]), meta: { key: f.key } });
  }
  const result = await uppy.upload();
  return {
    successful: result.successful.map((f) => f.meta.key),
    failed: result.failed.map((f) => ({ key: f.meta.key, error: String(f.error) })),
  };
};
