/** Fault injection: which configured rule (if any) fires for a request, with seeded rates and `times` budgets. */
import { mulberry32 } from './hash';
import type { FaultRule, RouteName } from './types';

export class FaultInjector {
  private random: () => number;
  /** How often each rule fired, by index into the current rule list. */
  private fired: number[] = [];

  constructor(private seed: number) {
    this.random = mulberry32(seed);
  }

  /** A new rule list starts with fresh `times` budgets. */
  rulesReplaced(): void {
    this.fired = [];
  }

  reseed(seed: number): void {
    this.seed = seed;
    this.random = mulberry32(seed);
  }

  /** Fresh budgets and PRNG, so a run after reset repeats the same fault pattern. */
  reset(): void {
    this.fired = [];
    this.random = mulberry32(this.seed);
  }

  /** First matching rule whose budget allows it and whose rate draw hits. */
  pick(rules: readonly FaultRule[], route: RouteName, purpose: string, rawBody: string): FaultRule | undefined {
    for (let i = 0; i < rules.length; i++) {
      const rule = rules[i];
      if (rule.route !== undefined && rule.route !== route) continue;
      if (rule.purpose !== undefined && rule.purpose !== purpose) continue;
      if (rule.contains !== undefined && !rawBody.includes(rule.contains)) continue;
      const fired = this.fired[i] ?? 0;
      if (rule.times !== undefined && fired >= rule.times) continue;
      const rate = rule.rate ?? 1;
      // Draw only for partial rates so adding a rate-1 rule does not shift other rules' sequences.
      if (rate < 1 && !(this.random() < rate)) continue;
      this.fired[i] = fired + 1;
      return rule;
    }
    return undefined;
  }
}
