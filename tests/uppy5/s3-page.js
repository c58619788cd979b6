// The @uppy/aws-s3 5.x test page (from tests/uppy5): see tests/uppy/s3-companion.js.
import Uppy from '@uppy/core';
import AwsS3 from '@uppy/aws-s3';
import { exposeUploadWithUppyS3 } from '../uppy/s3-companion.js';

exposeUploadWithUppyS3(Uppy, AwsS3);
