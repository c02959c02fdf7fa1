/**
 * A binary min-heap ordered by `at`, for timeouts evaluated lazily: entries are never removed
 * early, they are validated when popped (see {@link MinHeap.popDue}'s callers).
 */
export class MinHeap<T extends { readonly at: number }> {
  private readonly items: T[] = [];

  get size(): number {
    return this.items.length;
  }

  /** The earliest entry's time, or Infinity when empty. */
  peekAt(): number {
    return this.items[0]?.at ?? Number.POSITIVE_INFINITY;
  }

  push(item: T): void {
    const a = this.items;
    a.push(item);
    let i = a.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      const parent = a[p] as T;
      if (parent.at <= item.at) break;
      a[i] = parent;
      i = p;
    }
    a[i] = item;
  }

  /** Removes and returns the earliest entry if it is due at `now`. */
  popDue(now: number): T | undefined {
    const a = this.items;
    const top = a[0];
    if (top === undefined || top.at > now) return undefined;
    const last = a.pop() as T;
    if (a.length > 0) {
      a[0] = last;
      this.siftDown(0);
    }
    return top;
  }

  /**
   * Drops every entry `keep` rejects and restores heap order, in O(n). Callers run it when stale
   * entries outnumber live ones, which keeps the heap bounded at O(1) amortised per operation.
   */
  retain(keep: (item: T) => boolean): void {
    const a = this.items;
    let w = 0;
    for (let r = 0; r < a.length; r++) {
      const it = a[r] as T;
      if (keep(it)) a[w++] = it;
    }
    a.length = w;
    for (let i = (w >> 1) - 1; i >= 0; i--) this.siftDown(i);
  }

  clear(): void {
    this.items.length = 0;
  }

  private siftDown(start: number): void {
    const a = this.items;
    const n = a.length;
    const item = a[start] as T;
    let i = start;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      let c = l;
      if (r < n && (a[r] as T).at < (a[l] as T).at) c = r;
      if ((a[c] as T).at >= item.at) break;
      a[i] = a[c] as T;
      i = c;
    }
    a[i] = item;
  }
}
