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

/**
 * RabbitMQ's amqps:// listener that requires a client certificate (verify_peer,
 * fail_if_no_peer_cert), and the folder `amqp-spy certs` filled for it: ca.pem signed its
 * server certificate and client.pem. CI sets both; `AMQP_SPY_RABBITMQ_NODE` names the node
 * for rabbitmqctl when it is not the default one.
 */
export const RABBITMQ_TLS_URL = process.env['AMQP_SPY_RABBITMQ_TLS_URL'];
export const RABBITMQ_TLS_DIR = process.env['AMQP_SPY_RABBITMQ_TLS_DIR'];
export const RABBITMQ_NODE = process.env['AMQP_SPY_RABBITMQ_NODE'];

/** `describe` for tests that need RabbitMQ's mutual-TLS listener; the skip names the variables. */
export function describeWithRabbitMQTls(name: string, body: () => void): void {
  if (RABBITMQ_TLS_URL && RABBITMQ_TLS_DIR) describe(`${name} (RabbitMQ at ${RABBITMQ_TLS_URL.replace(/\/\/[^@]*@/, '//')})`, body);
  else describe.skip(`${name} (skipped: set AMQP_SPY_RABBITMQ_TLS_URL and AMQP_SPY_RABBITMQ_TLS_DIR to run against RabbitMQ with mutual TLS)`, body);
}
