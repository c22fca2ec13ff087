/**
 * Hashed bag-of-words embeddings: each lowercase word adds ±1 to one dimension (FNV-1a mod dims, sign from a
 * second hash), then the vector is L2-normalised. Texts that share words get a high cosine similarity, which is
 * all retrieval code under test needs.
 */
import { fnv1a } from './hash';

const SIGN_BASIS = 0x01000193; // any basis other than FNV's offset gives an independent hash for the sign

export function embed(text: string, dims: number): number[] {
  const v = new Float64Array(dims);
  for (const word of text.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? []) {
    const sign = fnv1a(word, SIGN_BASIS) & 1 ? 1 : -1;
    v[fnv1a(word) % dims] += sign;
  }
  let norm = 0;
  for (const x of v) norm += x * x;
  // No words: a fixed unit vector, so callers never see NaN or a zero vector.
  if (norm === 0) return Array.from({ length: dims }, (_, i) => (i === 0 ? 1 : 0));
  const scale = 1 / Math.sqrt(norm);
  // Rounded to float32 so the 'float' and 'base64' encodings give the same numbers.
  return Array.from(v, (x) => Math.fround(x * scale));
}

/** OpenAI's encoding_format 'base64': little-endian float32 bytes. */
export function toBase64Float32(vector: number[]): string {
  const buf = Buffer.alloc(vector.length * 4);
  vector.forEach((x, i) => buf.writeFloatLE(x, i * 4));
  return buf.toString('base64');
}

export function cosine(a: number[], b: number[]): number {
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    dot += a[i] * b[i];
    na += a[i] * a[i];
    nb += b[i] * b[i];
  }
  return na && nb ? dot / Math.sqrt(na * nb) : 0;
}
