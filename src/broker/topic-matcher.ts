// Topic binding patterns compiled into a trie over words, like RabbitMQ's topic trie:
// a routing key is matched by walking the trie once, never by testing each pattern.
// `*` matches exactly one word, `#` zero or more; words may be empty (`a..b`, `.a`, `a.`).

/** RabbitMQ splits an empty key into zero words, and every dot separates two words. */
export function splitTopicWords(key: string): string[] {
  return key === '' ? [] : key.split('.');
}

class TrieNode<T> {
  readonly children = new Map<string, TrieNode<T>>();
  star: TrieNode<T> | undefined;
  hash: TrieNode<T> | undefined;
  /** values whose pattern ends at this node */
  readonly values = new Set<T>();
  /** match generation in which this `#` node was last entered, and the smallest word index then */
  visitGen = 0;
  visitFrom = 0;

  isEmpty(): boolean {
    return this.values.size === 0 && this.children.size === 0 && this.star === undefined && this.hash === undefined;
  }
}

export class TopicMatcher<T> {
  private readonly root = new TrieNode<T>();
  private generation = 0;
  private count = 0;

  /** number of (pattern, value) pairs stored */
  get size(): number {
    return this.count;
  }

  /** Adds `value` under `pattern`; false when that pair is already present. */
  add(pattern: string, value: T): boolean {
    let node = this.root;
    for (const word of splitTopicWords(pattern)) node = this.step(node, word, true)!;
    if (node.values.has(value)) return false;
    node.values.add(value);
    this.count++;
    return true;
  }

  /** Removes the pair; prunes nodes left empty. False when it was not present. */
  remove(pattern: string, value: T): boolean {
    const words = splitTopicWords(pattern);
    const path: Array<TrieNode<T>> = [this.root];
    let node = this.root;
    for (const word of words) {
      const next = this.step(node, word, false);
      if (next === undefined) return false;
      node = next;
      path.push(node);
    }
    if (!node.values.delete(value)) return false;
    this.count--;
    for (let i = words.length; i > 0; i--) {
      const child = path[i]!;
      if (!child.isEmpty()) break;
      const parent = path[i - 1]!;
      const word = words[i - 1]!;
      if (word === '*') parent.star = undefined;
      else if (word === '#') parent.hash = undefined;
      else parent.children.delete(word);
    }
    return true;
  }

  /** Adds every value whose pattern matches `routingKey` to `out` (a value appears once). */
  match(routingKey: string, out: Set<T> = new Set()): Set<T> {
    const words = splitTopicWords(routingKey);
    // a fresh generation invalidates every `#` node's memo without touching the nodes
    this.generation = (this.generation + 1) | 0;
    if (this.generation === 0) this.generation = 1;
    this.visit(this.root, words, 0, out);
    return out;
  }

  private step(node: TrieNode<T>, word: string, create: boolean): TrieNode<T> | undefined {
    if (word === '*') {
      if (node.star === undefined && create) node.star = new TrieNode();
      return node.star;
    }
    if (word === '#') {
      if (node.hash === undefined && create) node.hash = new TrieNode();
      return node.hash;
    }
    let child = node.children.get(word);
    if (child === undefined && create) {
      child = new TrieNode();
      node.children.set(word, child);
    }
    return child;
  }

  /** `node` has consumed words[0..i). */
  private visit(node: TrieNode<T>, words: readonly string[], i: number, out: Set<T>): void {
    if (node.hash !== undefined) this.enterHash(node.hash, words, i, out);
    if (i === words.length) {
      for (const v of node.values) out.add(v);
      return;
    }
    const child = node.children.get(words[i]!);
    if (child !== undefined) this.visit(child, words, i + 1, out);
    if (node.star !== undefined) this.visit(node.star, words, i + 1, out);
  }

  /**
   * A `#` node entered at word i may absorb words i..j-1 for every j. Entering it again at a
   * later index in the same match would only repeat work, so each `#` node remembers the
   * smallest index it was entered at: the walk stays O(trie size × words) even for `#.#.#`.
   */
  private enterHash(hash: TrieNode<T>, words: readonly string[], i: number, out: Set<T>): void {
    const from = i;
    let to = words.length;
    if (hash.visitGen === this.generation) {
      if (hash.visitFrom <= i) return;
      to = hash.visitFrom - 1; // indices from visitFrom on were already explored
    }
    hash.visitGen = this.generation;
    hash.visitFrom = i;
    for (let j = from; j <= to; j++) this.visit(hash, words, j, out);
  }
}
