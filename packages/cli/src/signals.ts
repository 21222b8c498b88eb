/**
 * SIGINT and SIGTERM for the commands that stop gracefully on the first and at once on a second
 * (`kch broker`, `kch consume`).
 *
 * A second signal within {@link SIGNAL_GRACE_MS} of the first is the same request, not a second one:
 * under a wrapper (pnpm, tsx, npm exec, a CI runner's shell) one Ctrl-C can reach the process twice,
 * once from the terminal, which signals the whole process group, and once passed on by the wrapper,
 * milliseconds later. Taking that copy as "exit now" skipped the graceful stop: a consumer left its
 * group without leaving it (a stale member until the session timeout), a broker did not flush.
 * A person who presses Ctrl-C again because the stop takes long does so later than that.
 */

/** How long after a first stop signal another one is taken as the same (ms). */
export const SIGNAL_GRACE_MS = 1000;

export interface StopSignalHandlers {
  /** The first signal: stop gracefully. */
  stop(signal: NodeJS.Signals): void;
  /** A signal that came more than the grace period after the first: exit now. */
  force(signal: NodeJS.Signals): void;
  /** A signal within the grace period of the first, taken as the same request as the first. */
  repeated?(signal: NodeJS.Signals, afterMs: number): void;
}

/**
 * Listens for SIGINT and SIGTERM until the returned function is called. `graceMs` is for tests, which
 * check both sides of it with real signals.
 */
export function onStopSignals(handlers: StopSignalHandlers, graceMs = SIGNAL_GRACE_MS): () => void {
  let first: number | undefined;
  const onSignal = (signal: NodeJS.Signals) => {
    const now = performance.now();
    if (first === undefined) {
      first = now;
      handlers.stop(signal);
    } else if (now - first < graceMs) {
      handlers.repeated?.(signal, Math.round(now - first));
    } else {
      handlers.force(signal);
    }
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return () => {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  };
}
