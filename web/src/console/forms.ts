// What the console's confirmations and small forms share.

/**
 * escapeCancels is the keydown handler of a confirmation or a form that
 * may be left: Escape answers "not now" (cancel), unless a call is under
 * way (busy), as everywhere in the console.
 */
export function escapeCancels(busy: boolean, cancel: () => void): (e: KeyboardEvent) => void {
  return (e) => {
    if (e.key === 'Escape' && !busy) {
      e.preventDefault();
      cancel();
    }
  };
}
