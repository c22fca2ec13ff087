/** `--help` texts name the options their commands accept. */
import { commandHelp } from '../../src/cli/help';

it('stories --help names the options stories schedule passes to each run (--concurrency, --batch)', () => {
  expect(commandHelp('stories')).toMatch(/stories schedule --every 1h .*\[--concurrency N\] \[--batch\]/);
});

it('cancel --help says what a cancel of a script with no running ingestion does (exit 1), as pause and resume do', () => {
  expect(commandHelp('cancel')).toContain('Exit 1 when no ingestion of it is running.');
  expect(commandHelp('pause')).toContain('Exit 1 when no ingestion of it is running.');
});

it('search --help says a blank or over-long text is refused; ingest --help that --script-id goes with a file', () => {
  expect(commandHelp('search')).toContain('The text must not be blank and has at most 2000 characters.');
  expect(commandHelp('ingest')).toContain('--script-id ID                   (with a file only) update this script');
});
