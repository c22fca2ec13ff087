/** Integer options of the CLI (`--limit`, `--concurrency`, `--variants`, `--port` …): decimal digits in range, or exit 2. */
import { intOption } from '../../src/cli/int-option';
import { UsageError } from '../../src/cli/temporal-client';

it('reads decimal digits in range, and the fallback when the option is not given', () => {
  expect(intOption('--limit', '5', 50, 1, 500)).toBe(5);
  expect(intOption('--limit', '500', 50, 1, 500)).toBe(500);
  expect(intOption('--offset', '-3', 0, -10, 10)).toBe(-3);
  expect(intOption('--limit', undefined, 50, 1, 500)).toBe(50);
});

it.each(['1e2', '0x10', '5.0', ' 5', '5 ', '', '+5', 'five', '2.5', '99999999999999999999', '0', '501'])('refuses %j naming the option and its range', (raw) => {
  expect(() => intOption('--limit', raw, 50, 1, 500)).toThrow(new UsageError(`--limit must be an integer from 1 to 500; got "${raw}"`));
});
