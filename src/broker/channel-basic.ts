// basic.* on a channel: qos, consume, cancel, publish (the generic path; most publishes and
// acks take the channel's fast path), get, ack, nack, reject and recover.

import type { MethodArgs } from '../decoder/spec.js';
import type { DecodedMethod } from '../decoder/types.js';
import { AmqpError } from './amqp-error.js';
import { text, unimplemented, type ChannelContext } from './channel-context.js';

export function basicMethod(ch: ChannelContext, m: DecodedMethod): void {
  const a = m.args;
  switch (m.name) {
    case 'basic.qos': {
      const d = a as MethodArgs<'basic.qos'>;
      if (d['prefetch-size'] !== 0) throw AmqpError.of('NOT_IMPLEMENTED', `prefetch_size!=0 (${d['prefetch-size']})`);
      ch.setPrefetch(d['prefetch-count'], d.global);
      ch.send('basic.qos-ok', {});
      ch.resumeDeliveries();
      return;
    }
    case 'basic.consume':
      ch.consume(a as MethodArgs<'basic.consume'>);
      return;
    case 'basic.cancel': {
      const d = a as MethodArgs<'basic.cancel'>;
      const tag = text(d['consumer-tag']);
      ch.cancel(tag);
      if (!d.nowait) ch.send('basic.cancel-ok', { 'consumer-tag': tag });
      return;
    }
    case 'basic.publish': {
      const d = a as MethodArgs<'basic.publish'>;
      ch.beginPublish(text(d.exchange), text(d['routing-key']), d.mandatory, d.immediate);
      return;
    }
    case 'basic.get':
      ch.get(a as MethodArgs<'basic.get'>);
      return;
    case 'basic.ack': {
      const d = a as MethodArgs<'basic.ack'>;
      ch.ack(d['delivery-tag'], d.multiple);
      return;
    }
    case 'basic.nack': {
      const d = a as MethodArgs<'basic.nack'>;
      ch.nack(d['delivery-tag'], d.multiple, d.requeue);
      return;
    }
    case 'basic.reject': {
      const d = a as MethodArgs<'basic.reject'>;
      ch.nack(d['delivery-tag'], false, d.requeue);
      return;
    }
    case 'basic.recover-async':
    case 'basic.recover': {
      const requeue = (a as MethodArgs<'basic.recover'>).requeue;
      if (!requeue) throw AmqpError.of('NOT_IMPLEMENTED', 'requeue=false');
      ch.recover();
      if (m.name === 'basic.recover') ch.send('basic.recover-ok', {});
      return;
    }
    default:
      throw unimplemented();
  }
}
