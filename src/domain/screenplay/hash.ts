import { createHash } from 'node:crypto';
import type { ParsedScene } from './types';

/**
 * sha256 (hex) of `heading + '\n' + text`: identifies a scene's content across re-imports, so
 * unchanged scenes can be skipped. Line endings and indentation are already normalised by the
 * parser, so a CRLF and an LF copy of a scene hash the same. Uses node:crypto: not for workflow code.
 */
export function sceneContentHash(scene: Pick<ParsedScene, 'heading' | 'text'>): string {
  return createHash('sha256').update(`${scene.heading}\n${scene.text}`, 'utf8').digest('hex');
}
