// The @uppy/aws-s3 4.x test page (from the root package): see s3-companion.js.
import Uppy from '@uppy/core';
import AwsS3 from '@uppy/aws-s3';
import { exposeUploadWithUppyS3 } from './s3-companion.js';

exposeUploadWithUppyS3(Uppy, AwsS3);
