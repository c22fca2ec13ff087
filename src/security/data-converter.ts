import type { DataConverter } from '@temporalio/common';
import type { AppConfig } from '../config';
import { AesGcmPayloadCodec } from './payload-codec';

/** For a workflow bundle built ahead of its workers (`bundleWorkflowCode`) that runs encrypted. */
export const ENCRYPTED_FAILURE_CONVERTER_PATH = require.resolve('./failure-converter');

/**
 * The data converter every Temporal client and worker of the app uses: when STORYLOOM_PAYLOAD_KEYS
 * is set, payloads encrypted (see payload-codec.ts) and failures' messages and stack traces with
 * them (failure-converter.ts); the SDK's default otherwise.
 */
export function dataConverterFor(config: Pick<AppConfig, 'payloadKeys'>): DataConverter {
  return config.payloadKeys
    ? { payloadCodecs: [new AesGcmPayloadCodec(config.payloadKeys)], failureConverterPath: ENCRYPTED_FAILURE_CONVERTER_PATH }
    : {};
}
