// The URL a client connects to a live session with: the package API's `url` and the CLI's
// `--ready` line say the same thing.

import { formatHostPort } from '../source/address.js';

/** A login a URL carries (the built-in broker's first user, or the one an upstream URL names). */
export interface UrlLogin {
  readonly name?: string;
  readonly password?: string;
  readonly vhost?: string;
}

/** `amqp://name:password@host:port[/vhost]`; no path for the default vhost "/", which clients assume. */
export function amqpUrl(address: { readonly host: string; readonly port: number }, login: UrlLogin): string {
  const credentials = login.name !== undefined ? `${encodeURIComponent(login.name)}:${encodeURIComponent(login.password ?? '')}@` : '';
  const vhost = login.vhost;
  const path = vhost === undefined || vhost === '/' ? '' : `/${encodeURIComponent(vhost)}`;
  return `amqp://${credentials}${formatHostPort(address.host, address.port)}${path}`;
}

/** The login and vhost an upstream URL names (`amqp://ann:pw@host/vh`): the proxy forwards the client's own, so its URL carries them. */
export function upstreamLogin(upstream: string): UrlLogin {
  if (!/^amqps?:\/\//i.test(upstream)) return {};
  try {
    const url = new URL(upstream);
    const vhost = url.pathname.length > 1 ? decodeURIComponent(url.pathname.slice(1)) : undefined;
    return {
      ...(url.username !== '' ? { name: decodeURIComponent(url.username), password: decodeURIComponent(url.password) } : {}),
      ...(vhost !== undefined ? { vhost } : {}),
    };
  } catch {
    return {};
  }
}
