import { ScreenplayParseError } from './errors';

/** Largest file accepted, in bytes (5 MiB): feature-length scripts are well under 1 MB. */
export const MAX_SCREENPLAY_BYTES = 5 * 1024 * 1024;

/**
 * Turns file bytes into text with '\n' line endings and no BOM, or throws a ScreenplayParseError
 * ('empty', 'too_large', 'not_text'). Checks run cheapest first, size before decoding.
 */
export function decodeScreenplayText(bytes: Uint8Array): string {
  if (bytes.length === 0) {
    throw new ScreenplayParseError('empty', 'The file is empty: nothing to import.');
  }
  if (bytes.length > MAX_SCREENPLAY_BYTES) {
    throw new ScreenplayParseError(
      'too_large',
      `The file is ${formatMegabytes(bytes.length)}; the limit is ${formatMegabytes(MAX_SCREENPLAY_BYTES)}. ` +
        'Split the screenplay into smaller files (for example, one per act) and import them one at a time.',
    );
  }
  if ((bytes[0] === 0xff && bytes[1] === 0xfe) || (bytes[0] === 0xfe && bytes[1] === 0xff)) {
    throw new ScreenplayParseError(
      'not_text',
      'The file is not UTF-8 text (it starts with a UTF-16 byte-order mark). Save it as UTF-8 and import it again.',
    );
  }
  const nul = bytes.indexOf(0);
  if (nul >= 0) {
    throw new ScreenplayParseError(
      'not_text',
      `The file is not UTF-8 text (found a NUL byte at offset ${nul}); it looks like a binary file. ` +
        'Export the screenplay as Fountain (.fountain) or Final Draft (.fdx) and import that file.',
    );
  }
  let text: string;
  try {
    // ignoreBOM keeps a BOM in the output so that stripping it below is explicit.
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch {
    throw new ScreenplayParseError(
      'not_text',
      `The file is not UTF-8 text (found invalid bytes at offset ${firstInvalidUtf8Offset(bytes)}). ` +
        'Save it with UTF-8 encoding and import it again.',
    );
  }
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  text = text.replace(/\r\n?/g, '\n');
  if (text.trim() === '') {
    throw new ScreenplayParseError('empty', 'The file is empty (it holds only whitespace): nothing to import.');
  }
  return text;
}

/** "7.2 MB"; rounds up so that a file just over the limit never reads as equal to it. */
function formatMegabytes(byteCount: number): string {
  const mb = byteCount / (1024 * 1024);
  return Number.isInteger(mb) ? `${mb} MB` : `${(Math.ceil(mb * 10) / 10).toFixed(1)} MB`;
}

/**
 * Offset of the first byte of the first ill-formed UTF-8 sequence (TextDecoder does not say where),
 * following the WHATWG decoder's rules: no overlongs, no surrogates, nothing above U+10FFFF.
 */
export function firstInvalidUtf8Offset(bytes: Uint8Array): number {
  let i = 0;
  while (i < bytes.length) {
    const lead = bytes[i] as number;
    if (lead < 0x80) {
      i += 1;
      continue;
    }
    let trailing: number;
    let low = 0x80;
    let high = 0xbf;
    if (lead >= 0xc2 && lead <= 0xdf) {
      trailing = 1;
    } else if (lead >= 0xe0 && lead <= 0xef) {
      trailing = 2;
      if (lead === 0xe0) low = 0xa0;
      if (lead === 0xed) high = 0x9f;
    } else if (lead >= 0xf0 && lead <= 0xf4) {
      trailing = 3;
      if (lead === 0xf0) low = 0x90;
      if (lead === 0xf4) high = 0x8f;
    } else {
      return i;
    }
    for (let k = 1; k <= trailing; k++) {
      const byte = bytes[i + k];
      const min = k === 1 ? low : 0x80;
      const max = k === 1 ? high : 0xbf;
      if (byte === undefined || byte < min || byte > max) return i;
    }
    i += trailing + 1;
  }
  return -1;
}
