/** `generate --wait`'s stdout holds the saved screenplay alone: a stream lost or started over is settled against the saved text. */
import { StreamPrinter } from '../../src/cli/generate.command';

function printer() {
  const out: string[] = [];
  const p = new StreamPrinter((t) => out.push(t));
  return { p, stdout: () => out.join('') };
}

it('a stream lost part-way (Postgres restarted) is completed from the saved text', () => {
  const { p, stdout } = printer();
  p.onEvent({ type: 'start', variant: 0, attempt: 1 });
  p.onEvent({ type: 'delta', variant: 0, seq: 0, text: 'INT. PIER - NIGHT\n' });
  expect(p.complete('INT. PIER - NIGHT\n\nMara waits.\n')).toBe(true);
  expect(stdout()).toBe('INT. PIER - NIGHT\n\nMara waits.\n');
});

it('a retried attempt is not written over the first: stdout stays the first attempt\'s start, completed when the saved text begins with it', () => {
  const { p, stdout } = printer();
  p.onEvent({ type: 'start', variant: 0, attempt: 1 });
  p.onEvent({ type: 'delta', variant: 0, seq: 0, text: 'INT. PIER' });
  p.onEvent({ type: 'start', variant: 0, attempt: 2 });
  p.onEvent({ type: 'delta', variant: 0, seq: 0, text: 'INT. PIER - NIGHT\n' });
  expect(p.interrupted).toBe('its generation was retried (attempt 2)');
  expect(stdout()).toBe('INT. PIER');
  expect(p.complete('INT. PIER - NIGHT\n')).toBe(true);
  expect(stdout()).toBe('INT. PIER - NIGHT\n');
});

it('says when stdout holds text the saved version does not start with (a rewritten reply), and writes nothing more', () => {
  const { p, stdout } = printer();
  p.onEvent({ type: 'delta', variant: 0, seq: 0, text: 'Not a screenplay' });
  p.onEvent({ type: 'restart', variant: 0, reason: 'no scene heading' });
  p.onEvent({ type: 'delta', variant: 0, seq: 0, text: 'INT. PIER - NIGHT\n' });
  expect(p.complete('INT. PIER - NIGHT\n')).toBe(false);
  expect(p.interrupted).toContain('was not a Fountain screenplay (no scene heading)');
  expect(stdout()).toBe('Not a screenplay');
});

it('other variants never reach stdout', () => {
  const { p, stdout } = printer();
  p.onEvent({ type: 'delta', variant: 1, seq: 0, text: 'EXT. ROOF' });
  p.onEvent({ type: 'done', variant: 1, version: 2, truncated: false });
  expect(stdout()).toBe('');
  expect(p.done.has(1)).toBe(true);
});
