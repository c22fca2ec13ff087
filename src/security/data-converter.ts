import type { DataConverter } from '@temporalio/common';
import type { AppConfig } from '../config';
import { AesGcmPayloadCodec } from './payload-codec';

/**
 * The data converter every Temporal client and worker of the app uses: payloads encrypted when
 * STORYLOOM_PAYLOAD_KEYS is set (see payload-codec.ts), the SDK's default otherwise.
 */
export function dataConverterFor(config: Pick<AppConfig, 'payloadKeys'>): DataConverter {
  return config.payloadKeys ? { payloadCodecs: [new AesGcmPayloadCodec(config.payloadKeys)] } : {};
}
