// The test pages' script for @uppy/aws-s3 4.x and 5.x (bundled by tests/uppy-s3.test.mjs with
// each major's own @uppy/core, never shipped): the S3 plugin pointed at the gateway as its
// Companion, with the token in the plugin's `headers`, as the README shows. Without
// `multipart` each file goes as a form POST from `s3/params`; with it, through Companion's
// multipart endpoints in parts.

/** Defines `window.uploadWithUppyS3` over the `Uppy` and `AwsS3` classes of one major. */
export function exposeUploadWithUppyS3(Uppy, AwsS3) {
  window.uploadWithUppyS3 = async ({ endpoint, token, files, multipart = false, pauseAfter = 0 }) => {
    const uppy = new Uppy({ autoProceed: false });
    // With `pauseAfter`, each file is paused once that many bytes are sent, and resumed shortly
    // after, as a user pressing pause and then resume would.
    const paused = new Set();
    if (pauseAfter) {
      uppy.on('upload-progress', (file, progress) => {
        if (paused.has(file.id) || progress.bytesUploaded < pauseAfter) return;
        paused.add(file.id);
        uppy.pauseResume(file.id);
        setTimeout(() => uppy.pauseResume(file.id), 500);
      });
    }
    uppy.use(AwsS3, { endpoint, headers: { authorization: `Bearer ${token}` }, shouldUseMultipart: multipart, retryDelays: [0, 500, 1000] });
    for (const f of files) {
      const bytes = new Uint8Array(f.size);
      for (let i = 0; i < f.size; i++) bytes[i] = (i * 7 + f.seed) & 255;
      uppy.addFile({ name: f.name, type: f.type, data: new Blob([bytes], { type: f.type }) });
    }
    const result = await uppy.upload();
    return {
      paused: paused.size,
      successful: result.successful.map((f) => ({ name: f.name, key: f.response?.body?.key, location: f.response?.uploadURL })),
      failed: result.failed.map((f) => ({ name: f.name, error: String(f.error) })),
    };
  };
}
