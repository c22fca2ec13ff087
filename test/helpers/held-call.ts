/**
 * An activity whose first call waits for `release()` before it goes on to the real one: the test
 * acts (a cancel) while that call is in progress. Later calls go straight through.
 */
export function holdFirstCall<A extends unknown[], R>(real: (...args: A) => Promise<R>) {
  let started: () => void = () => undefined;
  const inCall = new Promise<void>((resolve) => (started = resolve));
  let release: () => void = () => undefined;
  const released = new Promise<void>((resolve) => (release = resolve));
  let held = false;
  return {
    activity: async (...args: A): Promise<R> => {
      if (!held) {
        held = true;
        started();
        await released;
      }
      return real(...args);
    },
    /** Resolves once the first call is waiting. */
    inCall,
    release: () => release(),
  };
}
