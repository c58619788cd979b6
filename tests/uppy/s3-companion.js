// The test pages' script for @uppy/aws-s3 4.x and 5.x (bundled by tests/uppy-s3.test.mjs with
// each major's own @uppy/core, never shipped): the S3 plugin pointed at the gateway as its
// Companion, with the token in the plugin's `headers`, as the README shows. Without
// `multipart` each file goes as a form POST from `s3/params`; with it, through Companion's
// multipart endpoints in parts.
import { outcome, patternedBlob, pauseOnceAfter } from './files.js';

/** Defines `window.uploadWithUppyS3` over the `Uppy` and `AwsS3` classes of one major. */
export function exposeUploadWithUppyS3(Uppy, AwsS3) {
  window.uploadWithUppyS3 = async ({ endpoint, token, files, multipart = false, pauseAfter = 0 }) => {
    const uppy = new Uppy({ autoProceed: false });
    const paused = pauseOnceAfter(uppy, pauseAfter);
    uppy.use(AwsS3, { endpoint, headers: { authorization: `Bearer ${token}` }, shouldUseMultipart: multipart, retryDelays: [0, 500, 1000] });
    for (const f of files) uppy.addFile({ name: f.name, type: f.type, data: patternedBlob(f) });
    const result = await uppy.upload();
    return { paused: paused.size, ...outcome(result) };
  };
}
