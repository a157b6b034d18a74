// The management API's errors, with RabbitMQ's status codes and JSON bodies
// ({"error": …, "reason": …}), measured on RabbitMQ 3.10's management plugin.

import type { Json } from '../broker/json-fields.js';

export class ManagementHttpError extends Error {
  constructor(
    readonly status: number,
    /** RabbitMQ's `error` field; undefined: an empty body (401 without credentials, 405) */
    readonly error: string | undefined,
    readonly reason: Json = null,
  ) {
    super(`${status} ${error ?? ''}: ${typeof reason === 'string' ? reason : JSON.stringify(reason)}`);
    this.name = new.target.name;
  }

  get body(): Json | undefined {
    return this.error === undefined ? undefined : { error: this.error, reason: this.reason };
  }
}

/** A path that names nothing: RabbitMQ's cowboy 404. */
export const objectNotFound = (): ManagementHttpError => new ManagementHttpError(404, 'Object Not Found', 'Not Found');

/** A write to a missing object (PUT into a missing vhost, a binding to a missing queue). */
export const notFound = (reason: string): ManagementHttpError => new ManagementHttpError(404, 'not_found', reason);

export const badRequest = (reason: Json): ManagementHttpError => new ManagementHttpError(400, 'bad_request', reason);

/** A user whose tags do not allow the request (RabbitMQ spells this one with an s). */
export const notAuthorised = (reason: string): ManagementHttpError => new ManagementHttpError(401, 'not_authorised', reason);
