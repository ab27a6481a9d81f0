/** A list read page by page through `nextCursor`, newest first, for the history and alerts views. */
import { useRef, useState } from 'preact/hooks';

export interface Page<T> {
  readonly items: T[];
  readonly nextCursor: string | null;
}

/**
 * `load(null)` reads the first page again (replacing the list); `load(cursor)` appends the next,
 * leaving out what the list has. An answer to an older request than the latest is dropped, so a
 * slow page cannot overwrite a newer filter's. `quiet` refreshes without showing "Loading".
 */
export function usePages<T extends { readonly id: string }>(fetchPage: (cursor: string | null) => Promise<Page<T>>) {
  const [items, setItems] = useState<T[]>([]);
  const [cursor, setCursor] = useState<string | null>(null);
  const [loading, setLoading] = useState(true);
  const [error, setError] = useState<string | null>(null);
  const seq = useRef(0);
  /** How many pages the list holds (1 after a fresh load). */
  const pages = useRef(0);
  async function load(from: string | null, quiet = false): Promise<void> {
    const mine = ++seq.current;
    if (!quiet) setLoading(true);
    setError(null);
    try {
      const page = await fetchPage(from);
      if (mine !== seq.current) return;
      setItems((old) => (from ? [...old, ...page.items.filter((n) => !old.some((o) => o.id === n.id))] : page.items));
      setCursor(page.nextCursor);
      pages.current = from ? pages.current + 1 : 1;
    } catch (err) {
      if (mine === seq.current) setError((err as Error).message);
    } finally {
      if (mine === seq.current) setLoading(false);
    }
  }
  return { items, setItems, cursor, loading, error, load, pages };
}
