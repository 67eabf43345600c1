// The stop check of iterated erasure: how much of the concept an edited model still draws, seen by the judge on
// fresh samples of the attribution's own prompts. Different concepts need different numbers of rounds.
import type { ModelHandle } from '../diffusion/handle.ts';
import { sampleImages } from '../diffusion/api.ts';
import { judgeImages, type Judge } from '../evaluation/judge.ts';
import { attributeOf } from '../world/concepts.ts';
import { CAPTIONS_TEMPLATE, keepPrompts, planPrompts, type FitPlan } from './plan.ts';
import type { RoundCheck } from './rounds.ts';
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

export interface CheckOptions {
  /** Erase: stop once at most this share of concept samples shows it (0 = run every round). */
  stopAt: number;
  /** Amplify: stop once at least this share shows it (0 = run every round). */
  recallAt: number;
  stopSamples: number;
  /** Undo a round taking the other values below keepAt × the unedited model's share drawn right (0 = off). */
  keepAt: number;
  keepSamples: number;
  /** The checks' prompts: the world's caption templates around the concept, or the fit's own. */
  prompts: 'fit' | 'captions';
}

/**
 * The rounds' check for an erase (stopAt) or amplify (recallAt) plan, with the keep check when keepAt > 0;
 * undefined (logged) where it is off or cannot apply. Its value is what is left to do: the share still showing the
 * concept when erasing, the share not yet showing it when amplifying (so the round with the lowest is kept).
 */
export async function roundCheck(
  model: ModelHandle, fitPlan: FitPlan, o: CheckOptions & { judge: Judge }, hooks: { log(m: string): void; signal?: AbortSignal },
): Promise<RoundCheck | undefined> {
  const plan: FitPlan = o.prompts === 'captions' ? { ...fitPlan, prompts: [], template: CAPTIONS_TEMPLATE } : fitPlan;
  const amplify = plan.objective === 'amplify';
  if ((amplify ? o.recallAt : o.stopAt) === 0) return undefined;
  try {
    checkedAttribute(plan, o.judge);
  } catch (err) {
    hooks.log(`${amplify ? 'recall' : 'stop'} check off: ${(err as Error).message} (every round runs)`);
    return undefined;
  }
  let keepFloor = 0;
  if (o.keepAt > 0) {
    const unedited = await judgedKeepShare(model, plan, o.judge, o.keepSamples, hooks.signal);
    keepFloor = o.keepAt * unedited;
    hooks.log(`keep check: the unedited model draws ${(100 * unedited).toFixed(1)} % of ${o.keepSamples} other-value samples right; a round that takes it below ${(100 * keepFloor).toFixed(1)} % is undone`);
  }
  return async (edited) => {
    const shown = await judgedConceptShare(edited, plan, o.judge, o.stopSamples, hooks.signal);
    const check = amplify ? { value: 1 - shown, share: shown, stop: shown >= o.recallAt } : { value: shown, share: shown, stop: shown <= o.stopAt };
    if (o.keepAt === 0) return check;
    const keep = await judgedKeepShare(edited, plan, o.judge, o.keepSamples, hooks.signal);
    return { ...check, keep, spoiled: keep < keepFloor };
  };
}
