// Retry with backoff for the pages' REST loads (the wall's channels, the terminal's tasks): a
// load that fails is tried again after 1 s, then 2, 4, 8 and every 15 s, until it succeeds or
// onError says that trying again cannot help (a 401: only signing in can).
// The live websocket has its own, jittered backoff in live.js.

const FIRST_DELAY_MS = 1000;
const MAX_DELAY_MS = 15000;

const sleep = (ms) => new Promise((resolve) => { setTimeout(resolve, ms); });

/**
 * Runs `attempt()` until it resolves, and resolves with its value. After each failure
 * `onError(err)` runs (to tell the user); when it returns false the retries stop and this
 * resolves with undefined.
 */
export async function retryWithBackoff(attempt, { onError = () => true } = {}) {
  let delay = FIRST_DELAY_MS;
  for (;;) {
    try {
      return await attempt();
    } catch (err) {
      if (onError(err) === false) return undefined;
      await sleep(delay);
      delay = Math.min(delay * 2, MAX_DELAY_MS);
    }
  }
}
