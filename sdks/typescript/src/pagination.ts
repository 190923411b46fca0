/**
 * Cursor pagination: a list endpoint answers `{<key>: [...], has_more}` newest first,
 * and the next page is asked for with `after` = the last item's `created_at`.
 */

/** A page of a list: its items under one key (`calls`, `transcripts`, ...) and `has_more`. */
export interface Page {
  has_more?: boolean;
}

/**
 * Yields every item of every page. `fetchPage(after)` fetches one page; iteration stops
 * when a page says `has_more: false`, comes back empty, or has no usable cursor.
 */
export async function* paginate<T extends { created_at?: string }>(
  key: string,
  fetchPage: (after: string | undefined) => Promise<Page>,
  startAfter?: string,
): AsyncGenerator<T, void, undefined> {
  let after = startAfter;
  for (;;) {
    const page = await fetchPage(after);
    const list: unknown = (page as Record<string, unknown>)[key];
    const items = (Array.isArray(list) ? list : []) as T[];
    for (const item of items) yield item;
    const last = items[items.length - 1];
    if (page.has_more !== true || last === undefined || !last.created_at) return;
    if (last.created_at === after) return; // a server that ignores the cursor would loop
    after = last.created_at;
  }
}
