// The stop check of iterated erasure: how much of the concept an edited model still draws, seen by the judge on
// fresh samples of the attribution's own prompts. Different concepts need different numbers of rounds.
import type { ModelHandle } from '../diffusion/handle.ts';
import { sampleImages } from '../diffusion/api.ts';
import { judgeImages, type Judge } from '../evaluation/judge.ts';
import { attributeOf } from '../world/concepts.ts';
import { keepPrompts, planPrompts, type FitPlan } from './plan.ts';
import type { SceneLabels } from '../world/concepts.ts';

/** Offsets the check's prompt draw and noise from the fit's and the refits' (seed + r − 1) seeds. */
const CHECK_SEED = 0x51ed;

/** The attribute of the plan's concept, or why the judge cannot check it. */
export function checkedAttribute(plan: FitPlan, judge: Judge): string {
  const attribute = attributeOf(plan.concept);
  if (!attribute) throw new Error(`"${plan.concept}" is not a world concept: the judge cannot tell whether it is erased`);
  if (!judge.config.attributes[attribute]?.includes(plan.concept)) throw new Error(`the judge has no class "${plan.concept}" for ${attribute}`);
  return attribute;
}

/**
 * The share of `count` samples of the plan's prompts (a draw of its own, the same every call: rounds are compared on
 * the same prompts and noise) that the judge labels with the plan's concept.
 */
export async function judgedConceptShare(model: ModelHandle, plan: FitPlan, judge: Judge, count: number, signal?: AbortSignal): Promise<number> {
  const attribute = checkedAttribute(plan, judge);
  const { prompts, seeds } = planPrompts({ ...plan, samples: count, seed: plan.seed + CHECK_SEED });
  return judgedShare(model, plan, judge, prompts, seeds, () => plan.concept, attribute, signal);
}

/**
 * What the edit must not cost: the share of `count` samples of the plan's keep prompts (its template with the
 * attribute's other values: "a blue square …" when erasing circle; a fixed draw) that the judge reads as the value
 * the prompt names.
 */
export async function judgedKeepShare(model: ModelHandle, plan: FitPlan, judge: Judge, count: number, signal?: AbortSignal): Promise<number> {
  const attribute = checkedAttribute(plan, judge);
  const { prompts, seeds, labels } = keepPrompts({ ...plan, samples: count, seed: plan.seed + CHECK_SEED });
  return judgedShare(model, plan, judge, prompts, seeds, (i) => labels[i]?.[attribute as keyof SceneLabels], attribute, signal);
}

/** The share of samples of `prompts` (the plan's DDIM steps, CFG and eta) whose `attribute` the judge reads as `expected(i)`. */
async function judgedShare(
  model: ModelHandle, plan: FitPlan, judge: Judge, prompts: string[], seeds: number[],
  expected: (i: number) => string | undefined, attribute: string, signal?: AbortSignal,
): Promise<number> {
  const images = await sampleImages(model, prompts, seeds, { steps: plan.steps, cfg: plan.cfg, eta: plan.eta }, { signal });
  try {
    const { labels } = await judgeImages(judge, images);
    return labels.filter((l, i) => l[attribute] === expected(i)).length / prompts.length;
  } finally {
    images.dispose();
  }
}
