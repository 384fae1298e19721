// Small inline icons: emoji fonts are missing on many machines (and nothing
// may be fetched), so the padlock is drawn, not typed.
export function Lock() {
  return (
    <svg class="icon" width="14" height="16" viewBox="0 0 14 16" aria-hidden="true">
      <path d="M3 7V5a4 4 0 0 1 8 0v2" fill="none" stroke="currentColor" stroke-width="2" />
      <rect x="1" y="7" width="12" height="9" rx="1.5" fill="currentColor" />
    </svg>
  );
}
