import { decodeUtf8Text, TextDecodeError, type TextSubject } from '../text-decode';
import { ScreenplayParseError } from './errors';

export { firstInvalidUtf8Offset } from '../text-decode';

/** Largest file accepted, in bytes (5 MiB): feature-length scripts are well under 1 MB. */
export const MAX_SCREENPLAY_BYTES = 5 * 1024 * 1024;

/** How the checks shared with other text (src/domain/text-decode.ts) word a screenplay file's refusals. */
const SCREENPLAY_FILE: TextSubject = {
  name: 'The file',
  nothing: 'nothing to import',
  again: 'import it again',
  binaryAdvice: 'Export the screenplay as Fountain (.fountain) or Final Draft (.fdx) and import that file.',
};

/**
 * Turns file bytes into text with '\n' line endings and no BOM, or throws a ScreenplayParseError
 * ('empty', 'too_large', 'not_text'). Checks run cheapest first, size before decoding.
 */
export function decodeScreenplayText(bytes: Uint8Array): string {
  if (bytes.length > MAX_SCREENPLAY_BYTES) {
    throw new ScreenplayParseError(
      'too_large',
      `The file is ${formatMegabytes(bytes.length)}; the limit is ${formatMegabytes(MAX_SCREENPLAY_BYTES)}. ` +
        'Split the screenplay into smaller files (for example, one per act) and import them one at a time.',
    );
  }
  let text: string;
  try {
    text = decodeUtf8Text(bytes, SCREENPLAY_FILE);
  } catch (err) {
    if (err instanceof TextDecodeError) throw new ScreenplayParseError(err.code, err.message);
    throw err;
  }
  return text.replace(/\r\n?/g, '\n');
}

/** "7.2 MB"; rounds up so that a file just over the limit never reads as equal to it. */
function formatMegabytes(byteCount: number): string {
  const mb = byteCount / (1024 * 1024);
  return Number.isInteger(mb) ? `${mb} MB` : `${(Math.ceil(mb * 10) / 10).toFixed(1)} MB`;
}
