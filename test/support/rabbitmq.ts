// RabbitMQ-backed tests run when AMQP_SPY_RABBITMQ_URL is set (CI sets it) and are skipped,
// visibly, otherwise. When it is set and the broker is unreachable, they fail.
import { describe } from 'vitest';

export const RABBITMQ_URL = process.env['AMQP_SPY_RABBITMQ_URL'];

export function rabbitAddress(): { host: string; port: number; username: string; password: string } {
  const url = new URL(RABBITMQ_URL!);
  return {
    host: url.hostname,
    port: Number(url.port || 5672),
    username: decodeURIComponent(url.username || 'guest'),
    password: decodeURIComponent(url.password || 'guest'),
  };
}

/** `describe` for tests that need RabbitMQ; the skip names the variable to set. */
export function describeWithRabbitMQ(name: string, body: () => void): void {
  if (RABBITMQ_URL) describe(`${name} (RabbitMQ at ${RABBITMQ_URL.replace(/\/\/[^@]*@/, '//')})`, body);
  else describe.skip(`${name} (skipped: set AMQP_SPY_RABBITMQ_URL to run against RabbitMQ)`, body);
}
