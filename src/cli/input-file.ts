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
  if (size > maxBytes) throw new UsageError(`${file}: the file is ${(size / 1024 / 1024).toFixed(1)} MB; the limit is ${maxBytes / 1024 / 1024} MB.`);
}
