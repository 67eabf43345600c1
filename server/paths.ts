// Every path that comes from a request or a file is resolved inside its root, or refused.
import { isAbsolute, relative, resolve } from 'node:path';

export class PathOutsideRoot extends Error {
  constructor(path: string) {
    super(`path ${JSON.stringify(path)} is outside its root`);
    this.name = 'PathOutsideRoot';
  }
}

export function resolveInside(root: string, ...parts: string[]): string {
  const base = resolve(root);
  const full = resolve(base, ...parts);
  const rel = relative(base, full);
  if (rel === '' || (!rel.startsWith('..') && !isAbsolute(rel))) return full;
  throw new PathOutsideRoot(parts.join('/'));
}
