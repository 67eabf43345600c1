// The shipped workflows (workflows/*.json): listed and opened beside the saved ones, read-only (the editor's
// "save as" copies one under a new name). Read from disk on each request, so an edited file shows at once.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { readWorkflowFile } from '../engine/workflow-file.ts';

export interface ShippedWorkflow {
  name: string;
  updatedAt: string;
  description?: string;
}

export class ShippedWorkflows {
  constructor(readonly dir: string) {}

  private file(name: string): string {
    return join(this.dir, `${name}.json`);
  }

  has(name: string): boolean {
    return existsSync(this.file(name));
  }

  list(): ShippedWorkflow[] {
    if (!existsSync(this.dir)) return [];
    return readdirSync(this.dir).filter((f) => f.endsWith('.json')).sort().map((f) => {
      const name = f.slice(0, -'.json'.length);
      const body = this.get(name) as { meta?: { description?: unknown } } | undefined;
      const description = typeof body?.meta?.description === 'string' ? body.meta.description : undefined;
      return { name, updatedAt: statSync(this.file(name)).mtime.toISOString(), ...(description ? { description } : {}) };
    });
  }

  /** The file's JSON (undefined when there is no such file or it does not parse). */
  get(name: string): unknown {
    if (!this.has(name)) return undefined;
    try {
      return readWorkflowFile(this.file(name));
    } catch {
      return undefined;
    }
  }
}
