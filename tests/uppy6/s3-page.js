// The test page's script for the current @uppy/aws-s3 (6.x; bundled by
// tests/uppy-s3-sign.test.mjs, never shipped): @uppy/core with the S3 plugin's `signRequest`
// asking the gateway's `POST /s3/sign` to sign each S3 request, with the few lines the README
// shows. With `multipart` every file goes in parts of 5 MiB; with `mode: 'direct'` the sign
// requests ask for parts straight to the S3 store.
import Uppy from '@uppy/core';
import AwsS3 from '@uppy/aws-s3';

window.uploadWithSignRequest = async ({ endpoint, token, files, multipart = false, pauseAfter = 0, mode }) => {
  const uppy = new Uppy({ autoProceed: false });
  const paused = new Set();
  if (pauseAfter) {
    uppy.on('upload-progress', (file, progress) => {
      if (paused.has(file.id) || progress.bytesUploaded < pauseAfter) return;
      paused.add(file.id);
      uppy.pauseResume(file.id);
      setTimeout(() => uppy.pauseResume(file.id), 500);
    });
  }
  const signed = [];
  uppy.use(AwsS3, {
    shouldUseMultipart: () => multipart,
    signRequest: async (request) => {
      signed.push(request);
      const res = await fetch(`${endpoint}/s3/sign`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify(mode ? { ...request, mode } : request),
      });
      if (!res.ok) throw new Error((await res.json()).detail);
      return res.json();
    },
  });
  for (const f of files) {
    const bytes = new Uint8Array(f.size);
    for (let i = 0; i < f.size; i++) bytes[i] = (i * 7 + f.seed) & 255;
    uppy.addFile({ name: f.name, type: f.type, data: new Blob([bytes], { type: f.type }) });
  }
  const result = await uppy.upload();
  return {
    paused: paused.size,
    signed: signed.map((r) => r.method + (r.partNumber ? ` part` : r.uploadId ? ' upload' : '')),
    successful: result.successful.map((f) => ({ name: f.name, key: f.response?.body?.key, location: f.response?.uploadURL })),
    failed: result.failed.map((f) => ({ name: f.name, error: String(f.error) })),
  };
};
