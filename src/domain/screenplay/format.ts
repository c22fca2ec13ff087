import type { ScreenplayFormat } from './types';

const FOUNTAIN_EXTENSIONS = new Set(['fountain', 'spmd', 'txt']);

/** The extension decides; an unknown or missing one falls back to sniffing the start of the text. */
export function detectFormat(fileName: string, text: string): ScreenplayFormat {
  const extension = /\.([^./\\]+)$/.exec(fileName.trim())?.[1]?.toLowerCase();
  if (extension === 'fdx') return 'fdx';
  if (extension !== undefined && FOUNTAIN_EXTENSIONS.has(extension)) return 'fountain';
  const start = text.trimStart();
  return start.startsWith('<?xml') || start.startsWith('<FinalDraft') ? 'fdx' : 'fountain';
}
