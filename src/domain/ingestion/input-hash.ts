/**
 * Hashes of what a derived artefact was made from, so a re-run can tell stale from current.
 * Uses node:crypto: activity-side only, never imported by workflow code.
 */
import { createHash } from 'node:crypto';

export function inputHash(...parts: (string | number)[]): string {
  const h = createHash('sha256');
  for (const p of parts) h.update(String(p)).update('\u0000');
  return h.digest('hex');
}
