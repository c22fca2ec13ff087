/**
 * The failure converter of encrypted runs (`dataConverter.failureConverterPath`, also bundled
 * into the workflow code): a failure's message and stack trace go into its encoded attributes, a
 * payload the codec encrypts, so history shows "Encoded failure" where an error named a
 * character or quoted a model's answer. Decoding reads either shape, so failures recorded before
 * (plaintext) still read.
 */
import { DefaultFailureConverter } from '@temporalio/common';

export const failureConverter = new DefaultFailureConverter({ encodeCommonAttributes: true });
