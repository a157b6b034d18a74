// Topic exchange: binding keys are patterns compiled into a word trie (see topic-matcher).

import type { FieldTable } from '../decoder/types.js';
import { Exchange, type Binding } from './exchange.js';
import { TopicMatcher } from './topic-matcher.js';

export class TopicExchange extends Exchange {
  readonly type = 'topic';
  private readonly trie = new TopicMatcher<Binding>();

  route(routingKey: string, _headers: FieldTable | undefined, out: Set<Binding>): void {
    this.trie.match(routingKey, out);
  }

  protected index(binding: Binding): void {
    this.trie.add(binding.routingKey, binding);
  }

  protected unindex(binding: Binding): void {
    this.trie.remove(binding.routingKey, binding);
  }
}
