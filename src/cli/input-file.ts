import { stat } from 'node:fs/promises';
import { UsageError } from './temporal-client';

/** A file to import exists, is a file and is at most `maxBytes`; else a UsageError saying which. */
export async function checkInputFile(file: string, maxBytes: number): Promise<void> {
  let size: number;
  try {
    const info = await stat(file);
    if (!info.isFile()) throw new UsageError(`${file} is not a file.`);
    size = info.size;
  } catch (err) {
    if (err instanceof UsageError) throw err;
    throw new UsageError((err as NodeJS.ErrnoException).code === 'ENOENT' ? `file not found: ${file}` : `Cannot read ${file}: ${(err as Error).message}.`);
  }
  // In MB, or in KB for a limit under 1 MB (a plot's).
  const [unit, name] = maxBytes >= 1024 * 1024 ? [1024 * 1024, 'MB'] : [1024, 'KB'];
  if (size > maxBytes) throw new UsageError(`${file}: the file is ${(size / unit).toFixed(1)} ${name}; the limit is ${maxBytes / unit} ${name}.`);
}
