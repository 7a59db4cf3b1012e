/* One polling loop for the components that follow something on the server (the wizard's test
 * run and job monitor, the jobs panel and its log view). */
import { DependencyList, useCallback, useEffect, useRef } from 'react';

/** What a poll answers: `false` (or nothing) stops the loop, `true` polls again after the
 * interval, a number polls again after that many milliseconds (0: at once). */
export type PollNext = boolean | number | void;

/**
 * Calls `fetch` now, then again after each answer for as long as it says so (PollNext), one
 * call at a time. The loop starts over when `deps` change and ends when the component goes.
 * `fetch` gets `alive()`: false once its round is over (its answer must not be used then). A
 * `fetch` that throws ends the loop: catch what should not.
 *
 * Returns `poke()`: poll now instead of waiting for the timer (a Refresh button), which also
 * starts a loop that had stopped.
 */
export function usePoll(
  fetch: (alive: () => boolean) => Promise<PollNext>,
  intervalMs: number | (() => number),
  deps: DependencyList
): () => void {
  const latest = useRef(fetch);
  latest.current = fetch;
  const interval = useRef(intervalMs);
  interval.current = intervalMs;
  const poke = useRef<() => void>(() => undefined);

  useEffect(() => {
    let alive = true;
    let busy = false;
    let again = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const run = async (): Promise<void> => {
      if (!alive) {
        return;
      }
      if (busy) {
        again = true; // poked during a poll: one more as soon as it ends
        return;
      }
      busy = true;
      if (timer !== undefined) {
        clearTimeout(timer);
        timer = undefined;
      }
      let next: PollNext = false;
      try {
        next = await latest.current(() => alive);
      } catch (error) {
        console.warn('eopde: a poll failed and stopped', error);
        next = false;
      } finally {
        busy = false;
      }
      if (!alive) {
        return;
      }
      if (again) {
        again = false;
        void run();
        return;
      }
      if (next === false || next === undefined) {
        return;
      }
      const wait =
        typeof next === 'number'
          ? next
          : typeof interval.current === 'function'
            ? interval.current()
            : interval.current;
      timer = setTimeout(() => void run(), wait);
    };
    poke.current = () => void run();
    void run();
    return () => {
      alive = false;
      poke.current = () => undefined;
      if (timer !== undefined) {
        clearTimeout(timer);
      }
    };
  }, deps);

  return useCallback(() => poke.current(), []);
}
