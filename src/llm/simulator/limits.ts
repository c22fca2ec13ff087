/** Per-provider admission control: concurrent requests and requests per (sliding) minute. */
import type { Provider, ProviderLimits } from './types';

export type Admission =
  | { ok: true; release: () => void }
  | { ok: false; reason: 'concurrency' | 'rpm'; retryAfterMs: number };

const WINDOW_MS = 60_000;

export class Limiter {
  private readonly inFlight = new Map<Provider, number>();
  /** Admission times within the last minute, oldest first; only kept while an rpm limit is set. */
  private readonly windows = new Map<Provider, number[]>();

  /** Admits the request (it holds a slot until `release`) or says why not and how long to wait. */
  admit(provider: Provider, limits: ProviderLimits | undefined, retryAfterMs: number, now: number): Admission {
    const current = this.inFlight.get(provider) ?? 0;
    if (limits?.maxConcurrent !== undefined && current >= limits.maxConcurrent) {
      return { ok: false, reason: 'concurrency', retryAfterMs };
    }
    if (limits?.rpm !== undefined) {
      const window = this.windows.get(provider) ?? [];
      while (window.length && window[0] <= now - WINDOW_MS) window.shift();
      if (window.length >= limits.rpm) {
        // Wait until enough old admissions leave the window for one more to fit.
        const freesAt = window[window.length - limits.rpm] + WINDOW_MS;
        return { ok: false, reason: 'rpm', retryAfterMs: Math.max(retryAfterMs, Math.ceil(freesAt - now)) };
      }
      window.push(now);
      this.windows.set(provider, window);
    } else {
      this.windows.delete(provider);
    }
    this.inFlight.set(provider, current + 1);
    let released = false;
    return {
      ok: true,
      release: () => {
        if (released) return;
        released = true;
        this.inFlight.set(provider, (this.inFlight.get(provider) ?? 1) - 1);
      },
    };
  }

  inFlightOf(provider: Provider): number {
    return this.inFlight.get(provider) ?? 0;
  }

  /** Forgets the rpm history (in-flight requests keep their slots). */
  resetWindows(): void {
    this.windows.clear();
  }
}
