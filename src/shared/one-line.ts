/**
 * A title names a thing on every line that lists it (and in its Web UI label): a line break, tab
 * or other control character would split those lines or reach a terminal. Workflow-safe.
 */
export function oneLineProblem(text: string): string | undefined {
  return /[\u0000-\u001f\u007f]/.test(text) ? 'must be one line (no line break, tab or other control character)' : undefined;
}
