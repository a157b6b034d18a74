// Runs a suite against the built-in broker always, and against RabbitMQ too when
// AMQP_SPY_RABBITMQ_URL is set (skipped visibly otherwise), so the same assertions hold on both.
import { afterAll, beforeAll, describe } from 'vitest';
import { startBroker, type RunningBroker } from '../../src/broker/broker-server.js';
import { describeWithRabbitMQ, rabbitAddress } from './rabbitmq.js';

export interface BrokerTarget {
  readonly host: string;
  readonly port: number;
  readonly username: string;
  readonly password: string;
}

export function describeAgainstBrokers(name: string, suite: (target: () => BrokerTarget) => void): void {
  describe(`${name} the built-in broker`, () => {
    let broker: RunningBroker;
    beforeAll(async () => {
      broker = await startBroker({ listen: { host: '127.0.0.1', port: 0 } });
    });
    afterAll(async () => {
      await broker?.close();
    });
    suite(() => ({ host: '127.0.0.1', port: broker.address.port, username: 'guest', password: 'guest' }));
  });
  describeWithRabbitMQ(`${name} RabbitMQ`, () => suite(rabbitAddress));
}
