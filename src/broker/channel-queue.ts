// queue.* on a channel: declare (with the direct reply-to pseudo-queue), bind, unbind, purge
// and delete. An empty queue name means the channel's most recently declared queue.

import type { MethodArgs } from '../decoder/spec.js';
import type { AmqpString, DecodedMethod } from '../decoder/types.js';
import { REPLY_TO, text, unimplemented, type ChannelContext } from './channel-context.js';

export function queueMethod(ch: ChannelContext, m: DecodedMethod): void {
  const a = m.args;
  switch (m.name) {
    case 'queue.declare': {
      const d = a as MethodArgs<'queue.declare'>;
      if (text(d.queue) === REPLY_TO && d.passive) {
        if (!d.nowait) ch.send('queue.declare-ok', { queue: REPLY_TO, 'message-count': 0, 'consumer-count': 0 });
        return;
      }
      const ok = ch.vhost().declareQueue({
        name: text(d.queue),
        connection: ch.conn,
        passive: d.passive,
        durable: d.durable,
        exclusive: d.exclusive,
        autoDelete: d['auto-delete'],
        arguments: d.arguments,
      });
      ch.mostRecentQueue = ok.queue;
      if (!d.nowait) ch.send('queue.declare-ok', { queue: ok.queue, 'message-count': ok.messageCount, 'consumer-count': ok.consumerCount });
      ch.conn.broker.scheduleExpiry();
      return;
    }
    case 'queue.bind': {
      const d = a as MethodArgs<'queue.bind'>;
      const queue = ch.queueName(d.queue);
      ch.vhost().bindQueue(queue, text(d.exchange), bindingKey(d, queue), d.arguments, ch.conn);
      if (!d.nowait) ch.send('queue.bind-ok', {});
      return;
    }
    case 'queue.unbind': {
      const d = a as MethodArgs<'queue.unbind'>;
      const queue = ch.queueName(d.queue);
      ch.vhost().unbindQueue(queue, text(d.exchange), bindingKey(d, queue), d.arguments, ch.conn);
      ch.send('queue.unbind-ok', {});
      return;
    }
    case 'queue.purge': {
      const d = a as MethodArgs<'queue.purge'>;
      const count = ch.vhost().purgeQueue(ch.queueName(d.queue), ch.conn);
      if (!d.nowait) ch.send('queue.purge-ok', { 'message-count': count });
      return;
    }
    case 'queue.delete': {
      const d = a as MethodArgs<'queue.delete'>;
      const count = ch.vhost().deleteQueue(ch.queueName(d.queue), ch.conn, { ifUnused: d['if-unused'], ifEmpty: d['if-empty'] });
      if (!d.nowait) ch.send('queue.delete-ok', { 'message-count': count });
      return;
    }
    default:
      throw unimplemented();
  }
}

/** queue.bind/unbind with neither queue nor routing key: the channel's last queue, keyed by its name. */
function bindingKey(args: { readonly queue: AmqpString; readonly 'routing-key': AmqpString }, queue: string): string {
  const key = text(args['routing-key']);
  return key === '' && text(args.queue) === '' ? queue : key;
}
