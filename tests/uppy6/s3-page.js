// The test page's script for the current @uppy/aws-s3 (6.x; bundled by
// tests/uppy-s3-sign.test.mjs, never shipped): @uppy/core with the S3 plugin's `signRequest`
// asking the gateway's `POST /s3/sign` to sign each S3 request, with the few lines the README
// shows. With `multipart` every file goes in parts of 5 MiB; with `mode: 'direct'` the sign
// requests ask for parts straight to the S3 store.
import Uppy from '@uppy/core';
import AwsS3 from '@uppy/aws-s3';
import { outcome, patternedBlob, pauseOnceAfter } from '../uppy/files.js';

window.uploadWithSignRequest = async ({ endpoint, token, files, multipart = false, pauseAfter = 0, mode }) => {
  const uppy = new Uppy({ autoProceed: false });
  const paused = pauseOnceAfter(uppy, pauseAfter);
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
  for (const f of files) uppy.addFile({ name: f.name, type: f.type, data: patternedBlob(f) });
  const result = await uppy.upload();
  return {
    paused: paused.size,
    signed: signed.map((r) => r.method + (r.partNumber ? ' part' : r.uploadId ? ' upload' : '')),
    ...outcome(result),
  };
};
