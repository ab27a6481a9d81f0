import { CaretakerError, ErrorCode } from '../../util/errors.ts';

/** Where a connection string points, without its password: for messages. */
export function describeTarget(url: string | undefined): string {
  if (url === undefined) return 'the PostgreSQL server of the given pool';
  try {
    const u = new URL(url);
    return `PostgreSQL at ${u.hostname || 'localhost'}:${u.port || '5432'}${u.pathname.length > 1 ? u.pathname : ''}${u.username !== '' ? ` as ${decodeURIComponent(u.username)}` : ''}`;
  } catch {
    return 'PostgreSQL (the store.postgres.url)';
  }
}

/** What to do about the errors a first connection commonly meets, by their code. */
const FIXES: Readonly<Record<string, string>> = {
  ECONNREFUSED: 'nothing listens there: start PostgreSQL, or fix the host and port in the URL',
  ENOTFOUND: 'the host name does not resolve: fix the host in the URL',
  EAI_AGAIN: 'the host name could not be resolved for now: check DNS, or use an IP address',
  ETIMEDOUT: 'the connection timed out: check the host, the port and any firewall in between',
  EHOSTUNREACH: 'the host is unreachable: check the network and the host in the URL',
  '3D000': 'the database does not exist: create it (createdb), or fix the database name in the URL',
  '28P01': 'the password was refused: fix the user or password in the URL',
  '28000': 'the server refused this user or client address: check pg_hba.conf and the user in the URL',
  '42501': 'the user lacks a permission the store needs (CREATE on the database, or on the schema): grant it, or use another schema',
  '53300': 'the server has no connection slot left: raise max_connections, or lower poolSize',
};

/**
 * A failure to open the store (connect and migrate) as an `ERR_STORE` error that names the
 * server and the fix, instead of a driver stack; other errors pass through.
 */
export function postgresOpenFailure(error: unknown, url: string | undefined): unknown {
  const code = (error as { code?: unknown } | null)?.code;
  const fix = typeof code === 'string' ? FIXES[code] : undefined;
  if (fix === undefined) return error;
  const detail = (error as Error).message;
  return new CaretakerError(ErrorCode.Store, `postgresStore: cannot use ${describeTarget(url)}: ${fix} (${code}: ${detail})`, { cause: error });
}
