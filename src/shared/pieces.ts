/**
 * Consecutive pieces of a list, each of at most `maxItems` items and `maxSize` in all (by
 * `sizeOf`), unless one item alone is larger: embedding requests by tokens, payloads by bytes.
 * Pure and workflow-safe (the stories workflow cuts payloads with it).
 */
export function piecesOf<T>(items: readonly T[], sizeOf: (item: T) => number, limits: { maxItems: number; maxSize: number }): T[][] {
  const pieces: T[][] = [];
  let piece: T[] = [];
  let size = 0;
  for (const item of items) {
    const s = sizeOf(item);
    if (piece.length && (piece.length >= limits.maxItems || size + s > limits.maxSize)) {
      pieces.push(piece);
      piece = [];
      size = 0;
    }
    piece.push(item);
    size += s;
  }
  if (piece.length) pieces.push(piece);
  return pieces;
}
