// Every workflows/*.json runs as a regression test on the micro model, through the headless harness.
//
// Convention: each workflow declares how to test it in `meta.test`:
//   "meta": { "test": {
//     "set":     { "load.model": "shapes-micro", "sample.steps": 4 },   // like `cadflow run --set node.param=value`
//     "targets": ["table"],                                           // optional partial run
//     "expect":  {                                                    // keyed "nodeId.output"
//       "table.table":  { "rows": 4 },                                // TABLE summary has exactly 4 rows
//       "clip.scores":  { "min": 0, "max": 1 },                       // NUMBER value, or SCORES/summary `mean`, in range
//       "prompts.prompts": { "match": { "count": 4 } }                 // summary contains these fields (toMatchObject)
//     } } }
// The run must finish with status "done", every node in `expect` must have produced that output,
// and the workflow must validate. A workflow without meta.test fails here: declare one.
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createHarness, type Harness } from '../../server/harness.ts';
import { REPO_ROOT } from '../../server/engine/registry.ts';
import { readWorkflowFile } from '../../server/engine/workflow-file.ts';
import { attributeDefaults } from '../../nodes/attribution/plan.ts';
import type { AttributionValue } from '../../nodes/attribution/attribution.ts';
import { attributeOf } from '../../nodes/world/concepts.ts';

const ExpectSpec = z.object({
  match: z.record(z.string(), z.unknown()).optional(),
  min: z.number().optional(),
  max: z.number().optional(),
  rows: z.number().int().optional(),
}).strict();
export const WorkflowTestSpec = z.object({
  set: z.record(z.string(), z.unknown()).default({}),
  targets: z.array(z.string()).optional(),
  expect: z.record(z.string().regex(/^[^.]+\.[^.]+$/), ExpectSpec).default({}),
}).strict();

const dir = join(REPO_ROOT, 'workflows');
const files = readdirSync(dir).filter((f) => f.endsWith('.json')).sort();

describe('workflows/*.json', () => {
  let harness: Harness;
  beforeAll(async () => {
    if (files.length) harness = await createHarness();
  });
  afterAll(() => harness?.close());

  it('lists the shipped workflows (none is fine until packs add them)', () => {
    expect(files.every((f) => /^[a-z0-9-]+\.json$/.test(f))).toBe(true);
  });

  for (const file of files) {
    it(`${file} runs on the micro model and meets meta.test.expect`, async () => {
      const raw = readWorkflowFile(join(dir, file)) as { meta?: { test?: unknown } };
      const spec = WorkflowTestSpec.safeParse(raw.meta?.test);
      expect(spec.success, `${file}: meta.test is missing or malformed: ${spec.error?.message}`).toBe(true);
      const { set, targets, expect: expected } = spec.data!;
      const validation = harness.validate(raw);
      const packErrors = harness.registry.packErrors.map((e) => `${e.pack}: ${e.message}`).join('; ');
      expect(validation.errors, `${file} does not validate${packErrors ? ` (broken packs: ${packErrors})` : ''}`).toEqual([]);
      const run = await harness.run(raw, { set, targets });
      expect(run.error, `${file} failed`).toBeUndefined();
      expect(run.status).toBe('done');
      for (const [key, want] of Object.entries(expected)) {
        const [nodeId, output] = key.split('.');
        expect(run.record.nodes[nodeId]?.status, `${file}: node ${nodeId}`).toBe('done');
        const summary = run.summary(nodeId, output);
        expect(summary, `${file}: ${key} has no summary`).toBeDefined();
        if (want.match) expect(summary, key).toMatchObject(want.match);
        if (want.rows !== undefined) expect((summary as { rows: unknown[] }).rows.length, `${key} rows`).toBe(want.rows);
        if (want.min !== undefined || want.max !== undefined) {
          const value = typeof summary === 'number' ? summary : (summary as { mean: number }).mean;
          if (want.min !== undefined) expect(value, `${key} ≥ min`).toBeGreaterThanOrEqual(want.min);
          if (want.max !== undefined) expect(value, `${key} ≤ max`).toBeLessThanOrEqual(want.max);
        }
      }
    }, 600_000);
  }

  // The one-workflow contract: erase-concept erases a value of every attribute with only concept.concept changed, and
  // each value gets its attribute's settings (template, λ, stop_at) without a special workflow.
  for (const value of ['square', 'red', 'striped', 'outline']) {
    it(`erase-concept.json erases ${value} (${attributeOf(value)}) with only concept.concept changed`, async () => {
      const raw = readWorkflowFile(join(dir, 'erase-concept.json')) as { meta: { test: unknown } };
      const { set } = WorkflowTestSpec.parse(raw.meta.test);
      const logs: string[] = [];
      const run = await harness.run(raw, { set: { ...set, 'concept.concept': value }, listener: { nodeLog: (id, m) => { if (id === 'erase') logs.push(m); } } });
      expect(run.error).toBeUndefined();
      const defaults = attributeDefaults(value);
      expect((run.output('fit', 'attribution') as AttributionValue).provenance.plan).toMatchObject({ concept: value, template: defaults.template, preserve: defaults.preserve });
      expect(logs.some((l) => l.includes(`judged '${value}'`) && l.includes(`≤ ${100 * defaults.stopAt} %`))).toBe(true);
      const rows = (run.summary('evaluate', 'table') as { rows: { model: string }[] }).rows;
      expect(rows).toHaveLength(2);
      expect(rows[1]!.model).toContain(`CAD erase '${value}'`);
      expect(run.output('erase', 'fraction')).toBeGreaterThan(0);
    }, 600_000);
  }
});
