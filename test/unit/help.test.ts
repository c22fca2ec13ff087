/** `--help` texts name the options their commands accept. */
import { commandHelp } from '../../src/cli/help';

it('stories --help names the options stories schedule passes to each run (--concurrency, --batch)', () => {
  expect(commandHelp('stories')).toMatch(/stories schedule --every 1h .*\[--concurrency N\] \[--batch\]/);
});
