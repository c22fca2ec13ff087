/** Fault injection: which configured rule (if any) fires for a request, with seeded rates and `times` budgets. */
import { mulberry32 } from './hash';
import { STREAM_FAULT_KINDS, type FaultRule, type RouteName } from './types';

export class FaultInjector {
  private readonly budget: RuleBudget;

  constructor(seed: number) {
    this.budget = new RuleBudget(seed);
  }

  /** A new rule list starts with fresh `times` budgets. */
  rulesReplaced(): void {
    this.budget.replaced();
  }

  reseed(seed: number): void {
    this.budget.reseed(seed);
  }

  /** Fresh budgets and PRNG, so a run after reset repeats the same fault pattern. */
  reset(): void {
    this.budget.reset();
  }

  /**
   * First matching rule whose budget allows it and whose rate draw hits. A `streamError` or
   * `streamStall` rule matches only a request that asked for a stream (`streamed`), and spends
   * nothing otherwise.
   */
  pick(rules: readonly FaultRule[], route: RouteName, purpose: string, rawBody: string, streamed: boolean): FaultRule | undefined {
    for (let i = 0; i < rules.length; i++) {
      const rule = rules[i];
      if (STREAM_FAULT_KINDS.includes(rule.kind) && !streamed) continue;
      if (rule.route !== undefined && rule.route !== route) continue;
      if (rule.purpose !== undefined && rule.purpose !== purpose) continue;
      if (rule.contains !== undefined && !rawBody.includes(rule.contains)) continue;
      if (this.budget.fires(i, rule)) return rule;
    }
    return undefined;
  }
}

/**
 * `times` budgets and seeded `rate` draws of a rule list (request faults, batch item faults):
 * whether rule `i` fires now. Draws only for partial rates, so adding a rate-1 rule does not
 * shift other rules' sequences.
 */
export class RuleBudget {
  private random: () => number;
  private fired: number[] = [];

  constructor(private seed: number) {
    this.random = mulberry32(seed);
  }

  replaced(): void {
    this.fired = [];
  }

  reseed(seed: number): void {
    this.seed = seed;
    this.random = mulberry32(seed);
  }

  reset(): void {
    this.fired = [];
    this.random = mulberry32(this.seed);
  }

  fires(i: number, rule: { rate?: number; times?: number }): boolean {
    const fired = this.fired[i] ?? 0;
    if (rule.times !== undefined && fired >= rule.times) return false;
    const rate = rule.rate ?? 1;
    if (rate < 1 && !(this.random() < rate)) return false;
    this.fired[i] = fired + 1;
    return true;
  }
}
