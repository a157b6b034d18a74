// An AMQP topic pattern (`*` one word, `#` zero or more words) compiled once into a matcher
// over the words of a routing key; for filters, where patterns are few and keys many.

export function compileTopicPattern(pattern: string): (routingKey: string) => boolean {
  const words = pattern.split('.');
  return (routingKey) => matchWords(words, 0, routingKey.split('.'), 0);
}

function matchWords(pattern: readonly string[], p: number, key: readonly string[], k: number): boolean {
  while (p < pattern.length) {
    const word = pattern[p]!;
    if (word === '#') {
      // collapse runs of '#'
      while (p + 1 < pattern.length && pattern[p + 1] === '#') p++;
      if (p === pattern.length - 1) return true;
      for (let skip = k; skip <= key.length; skip++) if (matchWords(pattern, p + 1, key, skip)) return true;
      return false;
    }
    if (k >= key.length) return false;
    if (word !== '*' && word !== key[k]) return false;
    p++;
    k++;
  }
  return k === key.length;
}
