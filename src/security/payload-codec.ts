/**
 * Payload encryption for Temporal (issue 14, "Confidentiality"): every payload a client or
 * worker sends — workflow inputs, activity results (summaries, character sheets), batch writes,
 * queries, heartbeats — is AES-256-GCM encrypted before it leaves the process, so history,
 * `temporal workflow show` and the Web UI show ciphertext unless the codec server decodes it.
 *
 * Encoded payload: metadata `encoding: binary/encrypted` and `encryption-key-id: <id>`; data =
 * 12-byte IV ‖ ciphertext ‖ 16-byte tag of the original Payload (protobuf), the key id as
 * additional data. Rotation: every key in STORYLOOM_PAYLOAD_KEYS decrypts, the one named by
 * STORYLOOM_PAYLOAD_KEY_ID encrypts. Payloads without this encoding pass through unchanged
 * (histories recorded before encryption replay as they are). Keys never appear in messages.
 */
import type { Payload, PayloadCodec } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

export const ENCRYPTED_ENCODING = 'binary/encrypted';
export const KEY_ID_METADATA = 'encryption-key-id';
/**
 * `message` with what to do when it is the SDK's answer to an encrypted payload read without the
 * keys ("Unknown encoding: binary/encrypted"): a CLI or API started without STORYLOOM_PAYLOAD_KEYS
 * reading a run whose workers encrypt. Other messages are returned as they are.
 */
export function withPayloadKeysHint(message: string): string {
  if (!message.includes(`Unknown encoding: ${ENCRYPTED_ENCODING}`)) return message;
  return `${message}: the run's payloads are encrypted; set STORYLOOM_PAYLOAD_KEYS to the workers' keys to read them`;
}

const IV_BYTES = 12;
const TAG_BYTES = 16;

export interface PayloadKeys {
  /** Key id → 32-byte key. */
  keys: Map<string, Buffer>;
  /** The id of the key new payloads are encrypted with. */
  writeKeyId: string;
}

const utf8 = (s: string) => new TextEncoder().encode(s);
const text = (b: Uint8Array | null | undefined) => (b ? new TextDecoder().decode(b) : undefined);

/** Thrown when a payload cannot be decrypted: names the key id, never a key. */
export class PayloadDecryptionError extends Error {
  override name = 'PayloadDecryptionError';
}

export class AesGcmPayloadCodec implements PayloadCodec {
  constructor(private readonly keys: PayloadKeys) {
    if (!keys.keys.has(keys.writeKeyId)) throw new Error(`payload key "${keys.writeKeyId}" is not among the keys`);
  }

  async encode(payloads: Payload[]): Promise<Payload[]> {
    const keyId = this.keys.writeKeyId;
    const key = this.keys.keys.get(keyId) as Buffer;
    return payloads.map((payload) => {
      const iv = randomBytes(IV_BYTES);
      const cipher = createCipheriv('aes-256-gcm', key, iv);
      cipher.setAAD(Buffer.from(keyId));
      const plain = temporal.api.common.v1.Payload.encode(payload).finish();
      const data = Buffer.concat([iv, cipher.update(plain), cipher.final(), cipher.getAuthTag()]);
      return { metadata: { encoding: utf8(ENCRYPTED_ENCODING), [KEY_ID_METADATA]: utf8(keyId) }, data };
    });
  }

  async decode(payloads: Payload[]): Promise<Payload[]> {
    return payloads.map((payload) => {
      if (text(payload.metadata?.encoding) !== ENCRYPTED_ENCODING) return payload;
      const keyId = text(payload.metadata?.[KEY_ID_METADATA]) ?? '';
      const key = this.keys.keys.get(keyId);
      if (!key) throw new PayloadDecryptionError(`payload encrypted with key "${keyId}", which is not in STORYLOOM_PAYLOAD_KEYS`);
      const data = Buffer.from(payload.data ?? new Uint8Array());
      if (data.length < IV_BYTES + TAG_BYTES) throw new PayloadDecryptionError(`encrypted payload (key "${keyId}") is truncated`);
      const decipher = createDecipheriv('aes-256-gcm', key, data.subarray(0, IV_BYTES));
      decipher.setAAD(Buffer.from(keyId));
      decipher.setAuthTag(data.subarray(data.length - TAG_BYTES));
      let plain: Buffer;
      try {
        plain = Buffer.concat([decipher.update(data.subarray(IV_BYTES, data.length - TAG_BYTES)), decipher.final()]);
      } catch {
        throw new PayloadDecryptionError(`payload (key "${keyId}") failed authentication: wrong key or altered data`);
      }
      return temporal.api.common.v1.Payload.decode(plain) as Payload;
    });
  }
}

/**
 * Parses `id:base64key,id:base64key` (each key 32 bytes); `writeKeyId` defaults to the first.
 * Errors name the variable and the key id, never a key's value.
 */
export function parsePayloadKeys(raw: string, writeKeyId: string | undefined, varName = 'STORYLOOM_PAYLOAD_KEYS'): PayloadKeys {
  const keys = new Map<string, Buffer>();
  for (const entry of raw.split(',').map((e) => e.trim()).filter(Boolean)) {
    const sep = entry.indexOf(':');
    const id = entry.slice(0, sep).trim();
    if (sep <= 0 || !/^[A-Za-z0-9._-]+$/.test(id)) throw new Error(`${varName}: each entry must look like <id>:<base64 32-byte key> (ids: letters, digits, . _ -)`);
    const key = Buffer.from(entry.slice(sep + 1).trim(), 'base64');
    if (key.length !== 32) throw new Error(`${varName}: key "${id}" must be 32 bytes, base64 (e.g. \`openssl rand -base64 32\`); it is ${key.length}`);
    if (keys.has(id)) throw new Error(`${varName}: key id "${id}" appears twice`);
    keys.set(id, key);
  }
  if (!keys.size) throw new Error(`${varName} has no keys`);
  const writer = writeKeyId || [...keys.keys()][0];
  if (!keys.has(writer)) throw new Error(`STORYLOOM_PAYLOAD_KEY_ID "${writer}" is not among the ids in ${varName}`);
  return { keys, writeKeyId: writer };
}
