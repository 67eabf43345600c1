// The Prompts node: an explicit list of prompts and/or a template filled from the world's concepts, with
// per-prompt seeds and exact labels for every prompt that names world concepts.
import { z } from 'zod';
import { defineNode, NodeParamError, ui, type PromptsValue } from '../sdk/index.ts';
import { ATTRIBUTES, DEFAULT_CONCEPTS, type Attribute, type SceneLabels, type WorldConcepts } from './concepts.ts';
import { fillTemplate, parsePrompt, styleWord } from './captions.ts';
import { makeRng } from './rng.ts';

const MAX_PROMPTS = 10_000;
const WORD = /^[a-z][a-z0-9-]*$/;

const valueList = (attr: string) =>
  ui(z.array(z.string()).default([]).describe(`${attr} values to use in the template (empty = all of the world's)`), { advanced: true });

export const promptsParams = z.object({
  prompts: ui(z.array(z.string()).default([]).describe('Explicit prompts, used as given (before any template prompts)'), { widget: 'prompts' }),
  template: z.string().default('')
    .describe('Prompt template with slots {shape} {colour} {background} {style} {concept}; {a} becomes "a" or "an".'),
  concept: z.string().default('')
    .describe('Concept held fixed in every template prompt: a world value (e.g. circle, yellow, outline) or free text for {concept}'),
  shapes: valueList('shape'),
  colours: valueList('colour'),
  backgrounds: valueList('background'),
  styles: valueList('style'),
  sampling: z.enum(['all', 'random']).default('all')
    .describe('all: every combination of the template slots in order; random: draw combinations with the seed'),
  count: z.number().int().min(0).max(MAX_PROMPTS).default(0)
    .describe('Number of template prompts (0 = every combination once); "all" cycles when larger'),
  seed: ui(z.number().int().min(0).default(0).describe('Base seed: prompt i gets seed + i'), { widget: 'seed' }),
  seeds: ui(z.array(z.number().int().min(0)).default([]).describe('Explicit per-prompt seeds (overrides seed; one per prompt)'), { advanced: true }),
});
export type PromptsParams = z.infer<typeof promptsParams>;

const PARAM_OF: Record<Attribute, 'shapes' | 'colours' | 'backgrounds' | 'styles'> = {
  shape: 'shapes', colour: 'colours', background: 'backgrounds', style: 'styles',
};

/** The concept lists the template draws from: the chosen values, else the world's defaults. */
function chosenConcepts(p: PromptsParams): WorldConcepts {
  const out = {} as WorldConcepts;
  for (const attr of ATTRIBUTES) {
    const values = p[PARAM_OF[attr]].map((v) => v.trim().toLowerCase());
    for (const v of values) {
      if (!WORD.test(v)) throw new NodeParamError(PARAM_OF[attr], `"${v}" is not one lowercase word`);
    }
    out[attr] = values.length ? [...new Set(values)] : [...DEFAULT_CONCEPTS[attr]];
  }
  return out;
}

/** Which attribute a world concept value belongs to (in the chosen lists, then the defaults). */
function attributeOf(concept: string, concepts: WorldConcepts): Attribute | undefined {
  for (const c of [concepts, DEFAULT_CONCEPTS]) {
    const hit = ATTRIBUTES.find((a) => c[a].includes(concept) || (a === 'style' && c.style.some((s) => styleWord(s) === concept)));
    if (hit) return hit;
  }
  return undefined;
}

/** The values prompts are labelled with: the world's plus any the user added in the lists. */
function labelConcepts(p: PromptsParams): WorldConcepts {
  const chosen = chosenConcepts(p);
  const out = {} as WorldConcepts;
  for (const a of ATTRIBUTES) out[a] = [...new Set([...DEFAULT_CONCEPTS[a], ...chosen[a]])];
  return out;
}

/** Exact labels of a prompt: what its words name, overridden by the values put into its slots. */
function promptLabels(text: string, picked: Partial<SceneLabels>, concepts: WorldConcepts): Record<string, string> {
  const all = { ...parsePrompt(text, concepts), ...picked };
  return Object.fromEntries(ATTRIBUTES.filter((a) => all[a] !== undefined).map((a) => [a, all[a]!]));
}

function templatePrompts(p: PromptsParams, labelling: WorldConcepts): { prompts: string[]; labels: Record<string, string>[] } {
  const concepts = chosenConcepts(p);
  const slots = [...p.template.matchAll(/\{(\w+)\}/g)].map((m) => m[1]!);
  for (const s of slots) {
    if (s !== 'a' && s !== 'concept' && !ATTRIBUTES.includes(s as Attribute)) {
      throw new NodeParamError('template', `unknown slot {${s}} (use {shape} {colour} {background} {style} {concept} {a})`);
    }
  }
  const used = ATTRIBUTES.filter((a) => slots.includes(a));
  const concept = p.concept.trim();
  let template = p.template;
  if (slots.includes('concept')) {
    if (!concept) throw new NodeParamError('concept', 'the template has a {concept} slot: set concept');
    template = template.replaceAll('{concept}', concept);
  } else if (concept) {
    const attr = attributeOf(concept.toLowerCase(), concepts);
    if (!attr) throw new NodeParamError('concept', `"${concept}" is not a value of the world (${ATTRIBUTES.map((a) => concepts[a].join('/')).join(', ')}) and the template has no {concept} slot`);
    if (!used.includes(attr)) throw new NodeParamError('concept', `"${concept}" is a ${attr}, but the template has no {${attr}} slot`);
    const value = attr === 'style' ? (concepts.style.find((s) => styleWord(s) === concept.toLowerCase()) ?? concept.toLowerCase()) : concept.toLowerCase();
    concepts[attr] = [value];
  }

  const sizes = used.map((a) => concepts[a].length);
  const combos = sizes.reduce((n, s) => n * s, 1);
  const count = p.count || combos;
  if (!p.count && combos > MAX_PROMPTS) {
    throw new NodeParamError('count', `${combos} combinations; set count (≤ ${MAX_PROMPTS}) or choose fewer values`);
  }
  const rng = makeRng(p.seed);
  const prompts: string[] = [];
  const labels: Record<string, string>[] = [];
  for (let i = 0; i < count; i++) {
    // Combination index → one value per used slot (last slot varies fastest).
    let k = p.sampling === 'random' ? Math.floor(rng() * combos) : i % combos;
    const picked: Partial<SceneLabels> = {};
    for (let j = used.length - 1; j >= 0; j--) {
      const attr = used[j]!;
      picked[attr] = concepts[attr][k % sizes[j]!]!;
      k = Math.floor(k / sizes[j]!);
    }
    const text = fillTemplate(template, picked);
    prompts.push(text);
    labels.push(promptLabels(text, picked, labelling));
  }
  return { prompts, labels };
}

/** Builds the PROMPTS value (exported for tests and the CLI). */
export function buildPrompts(p: PromptsParams): PromptsValue {
  const explicit = p.prompts.map((s) => s.trim()).filter(Boolean);
  const labelling = labelConcepts(p);
  const fromTemplate = p.template.trim() ? templatePrompts(p, labelling) : { prompts: [], labels: [] };
  if (!p.template.trim() && p.concept.trim()) {
    throw new NodeParamError('concept', 'concept fills a template: set template, e.g. "{a} {colour} {shape} on {a} {background} background"');
  }
  const prompts = [...explicit, ...fromTemplate.prompts];
  if (prompts.length === 0) throw new NodeParamError('prompts', 'no prompts: give prompts and/or a template');
  if (prompts.length > MAX_PROMPTS) throw new NodeParamError('prompts', `${prompts.length} prompts (max ${MAX_PROMPTS})`);
  const labels = [...explicit.map((s) => promptLabels(s, {}, labelling)), ...fromTemplate.labels];
  if (p.seeds.length && p.seeds.length !== prompts.length) {
    throw new NodeParamError('seeds', `${p.seeds.length} seeds for ${prompts.length} prompts`);
  }
  const seeds = p.seeds.length ? [...p.seeds] : prompts.map((_, i) => p.seed + i);
  return { prompts, seeds, labels };
}

export const promptsNode = defineNode({
  type: 'Prompts',
  typeVersion: 1,
  category: 'world',
  displayName: 'Prompts',
  description: 'A list of prompts with per-prompt seeds: given explicitly and/or from a template over the shapes world\'s concepts (exact labels per prompt).',
  inputs: {},
  outputs: { prompts: { type: 'PROMPTS', description: 'Prompts, seeds and world labels' } },
  params: promptsParams,
  async execute(ctx, _inputs, params) {
    const value = buildPrompts(params);
    ctx.record({ seeds: { prompts: value.seeds! } });
    return { prompts: value };
  },
});
