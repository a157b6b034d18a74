// Outstanding deliveries (or unconfirmed publishes) of one channel, in tag order, each with
// the seq of the event that started it. Tags grow per channel, so settling "everything up to
// T" (`multiple`) pops from the front: the work is proportional to what is settled, not to
// what is outstanding (a Map scanned on every multiple-ack made acking N deliveries one at a
// time cost N²/2 steps: 6.7 s for 40k, on the forwarding path).

/** A delivery tag: a number when exact (≤ 2^53), else a bigint; `<` compares across the two. */
export type Tag = number | bigint;

/** Who an entry counts against (a consumer, for its prefetch); kept beside the entry. */
export interface TagOwner {
  unacked: number;
}

/** seq of a settled entry still in the arrays (removed by a single ack out of order) */
const GONE = -1;

export class TagQueue {
  private tags: Tag[] = [];
  private seqs: number[] = [];
  /** each entry's owner, when any entry has one (null otherwise: unconfirmed publishes have none) */
  private owners: (TagOwner | undefined)[] | null = null;
  /** index of the first entry not yet popped */
  private head = 0;
  private live = 0;
  /** entries examined by settle so far: the work done, for tests and benches */
  examined = 0;

  /** Entries outstanding. */
  get size(): number {
    return this.live;
  }

  /** The seq of the oldest outstanding entry. */
  first(): number | undefined {
    this.skipGone();
    return this.head < this.seqs.length ? this.seqs[this.head] : undefined;
  }

  /**
   * Adds `tag` (normally above every tag so far); a tag already present gets the new seq.
   * An `owner` has its `unacked` counted up here and down when the entry is settled.
   */
  add(tag: Tag, seq: number, owner?: TagOwner): void {
    if (owner !== undefined) {
      owner.unacked++;
      if (this.owners === null) this.owners = new Array<TagOwner | undefined>(this.tags.length);
    }
    const owners = this.owners;
    const n = this.tags.length;
    if (this.head === n || tag > this.tags[n - 1]!) {
      this.tags.push(tag);
      this.seqs.push(seq);
      if (owners !== null) owners.push(owner);
      this.live++;
      return;
    }
    // out of order (a peer reusing or lowering tags): keep the order, at a cost only then
    const at = this.search(tag);
    if (at < n && this.tags[at] === tag) {
      if (this.seqs[at] === GONE) this.live++;
      else release(owners?.[at]);
      this.seqs[at] = seq;
      if (owners !== null) owners[at] = owner;
      return;
    }
    this.tags.splice(at, 0, tag);
    this.seqs.splice(at, 0, seq);
    if (owners !== null) owners.splice(at, 0, owner);
    this.live++;
  }

  /**
   * Removes what an ack settles: `tag` alone, or with `multiple` every entry up to it (tag 0
   * with `multiple`: all). Returns the seqs removed, oldest first.
   */
  settle(tag: Tag, multiple: boolean): number[] {
    const out: number[] = [];
    if (!multiple) {
      const at = this.search(tag);
      this.examined++;
      if (at < this.tags.length && this.tags[at] === tag && this.seqs[at] !== GONE) {
        out.push(this.seqs[at]!);
        if (this.owners !== null) release(this.owners[at]);
        this.seqs[at] = GONE;
        this.live--;
        this.afterRemoval();
      }
      return out;
    }
    const all = tag === 0 || tag === 0n;
    const tags = this.tags;
    const seqs = this.seqs;
    const owners = this.owners;
    let i = this.head;
    while (i < tags.length && (all || tags[i]! <= tag)) {
      this.examined++;
      const seq = seqs[i]!;
      if (seq !== GONE) {
        out.push(seq);
        if (owners !== null) release(owners[i]);
      }
      i++;
    }
    this.head = i;
    this.live -= out.length;
    this.afterRemoval();
    return out;
  }

  /** Removes every entry; their owners' counts go down too. */
  clear(): void {
    const owners = this.owners;
    if (owners !== null) for (let i = this.head; i < owners.length; i++) if (this.seqs[i] !== GONE) release(owners[i]);
    this.tags = [];
    this.seqs = [];
    if (owners !== null) this.owners = [];
    this.head = 0;
    this.live = 0;
  }

  /** First index in [head, length) whose tag is ≥ `tag`. */
  private search(tag: Tag): number {
    let lo = this.head;
    let hi = this.tags.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.tags[mid]! < tag) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  private skipGone(): void {
    while (this.head < this.seqs.length && this.seqs[this.head] === GONE) this.head++;
  }

  /** Drops popped and settled entries once they outnumber the live ones (amortized O(1)). */
  private afterRemoval(): void {
    this.skipGone();
    const held = this.tags.length;
    if (this.live === 0) {
      if (held > 0) {
        // nothing live: no owner to count down
        this.tags = [];
        this.seqs = [];
        if (this.owners !== null) this.owners = [];
        this.head = 0;
      }
      return;
    }
    if (held - this.live <= Math.max(64, this.live)) return;
    const tags: Tag[] = [];
    const seqs: number[] = [];
    const owners: (TagOwner | undefined)[] | null = this.owners === null ? null : [];
    for (let i = this.head; i < held; i++) {
      if (this.seqs[i] === GONE) continue;
      tags.push(this.tags[i]!);
      seqs.push(this.seqs[i]!);
      if (owners !== null) owners.push(this.owners![i]);
    }
    this.tags = tags;
    this.seqs = seqs;
    this.owners = owners;
    this.head = 0;
  }
}

function release(owner: TagOwner | undefined): void {
  if (owner !== undefined) owner.unacked--;
}
