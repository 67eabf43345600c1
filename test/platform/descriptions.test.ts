// Words a user reads: every built-in node's params carry a description of one sentence, at most 120 characters, that
// says what the param does — no version or tuning history (that goes in CHANGELOG.md and docs/lab-notebook/).
import { describe, expect, it } from 'vitest';
import { loadRegistry } from '../../server/engine/registry.ts';

const MAX = 120;

/** Why a description breaks the rule, or undefined. */
export function descriptionProblem(text: string | undefined): string | undefined {
  if (!text?.trim()) return 'no description';
  if (text.length > MAX) return `${text.length} characters (max ${MAX})`;
  // A second sentence: a full stop, "?" or "!" followed by a capital (abbreviations like "e.g." are lower-case after).
  if (/[.!?]\s+[A-Z]/.test(text)) return 'more than one sentence';
  if (/\bv\d+\b|typeVersion|since v|MEASUREMENTS/i.test(text)) return 'names a version or the measurement log';
  return undefined;
}

describe('param descriptions', () => {
  it('the rule itself: flags a missing, long, two-sentence or versioned description', () => {
    expect(descriptionProblem('Adam learning rate.')).toBeUndefined();
    expect(descriptionProblem('')).toBe('no description');
    expect(descriptionProblem('x'.repeat(121))).toMatch(/121 characters/);
    expect(descriptionProblem('Zero the top weights. Then refit.')).toBe('more than one sentence');
    expect(descriptionProblem('Samples per check (64 since v6)')).toMatch(/version/);
  });

  it('every built-in node param has one sentence of at most 120 characters', async () => {
    const registry = await loadRegistry({ nodePath: [] });
    const builtin = registry.describe().filter((n) => registry.packOf(n.type)?.origin === 'builtin');
    expect(builtin.map((n) => n.type)).toEqual(expect.arrayContaining(['Concept', 'Erase', 'EraseBaseline', 'FineTuneESD', 'FitAttribution', 'EvaluateErasure', 'Sample', 'Prompts']));
    const problems: string[] = [];
    for (const node of builtin) {
      const props = (node.params as { properties?: Record<string, { description?: string }> }).properties ?? {};
      for (const [param, schema] of Object.entries(props)) {
        const why = descriptionProblem(schema.description);
        if (why) problems.push(`${node.type}.${param}: ${why} — ${JSON.stringify(schema.description)}`);
      }
    }
    expect(problems).toEqual([]);
  });
});
