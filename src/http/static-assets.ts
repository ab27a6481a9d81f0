import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { extname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Where `npm run build:dashboard` puts the dashboard (the same path from src/ and from dist/). */
export const DASHBOARD_DIR = fileURLToPath(new URL('../../dist/dashboard/', import.meta.url));

const TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json',
};

/** One file of the built dashboard. */
export interface Asset {
  readonly body: Uint8Array;
  readonly type: string;
  /** Hashed file names never change content; index.html always may. */
  readonly immutable: boolean;
}

/**
 * The built dashboard, read once into memory (a few hundred kilobytes), keyed by URL path.
 * Only files that exist in the folder are ever served, so no request path can reach outside it.
 * Returns null when the dashboard has not been built.
 */
export function loadDashboard(dir: string = DASHBOARD_DIR): Map<string, Asset> | null {
  if (!existsSync(join(dir, 'index.html'))) return null;
  const assets = new Map<string, Asset>();
  const walk = (folder: string) => {
    for (const name of readdirSync(folder)) {
      const path = join(folder, name);
      if (statSync(path).isDirectory()) walk(path);
      else {
        const url = `/${relative(dir, path).split(sep).join('/')}`;
        assets.set(url, { body: readFileSync(path), type: TYPES[extname(name)] ?? 'application/octet-stream', immutable: url.startsWith('/assets/') });
      }
    }
  };
  walk(dir);
  return assets;
}
