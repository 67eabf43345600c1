// Iterated CAD: the first-order score s = w ⊙ ∇J predicts the effect of small edits only (under a one-shot edit of
// ~9 % of the FF weights the held-out J of shapes-tiny rises instead of falling), so erase in rounds: zero a
// little, refit the attribution on the model edited so far, zero a little more.
import type { ModelHandle } from '../diffusion/handle.ts';
import { fitAttribution, type AttributionValue, type GradientHooks } from './attribution.ts';
import { expandToWeights } from './components.ts';
import { zeroOverlay } from './masks.ts';
import { buildObjective, type FitPlan } from './plan.ts';
import { selectForErase, type EraseRule, type EraseSelection } from './selection.ts';
import { seconds } from './stop-check.ts';

export interface RoundResult {
  round: number;
  /** J of the attribution this round selected from (round 1: the given one, fitted on the unedited model). */
  value: number;
  /** A composite objective's part values (J_concept, J_keep of a preserving fit). */
  parts?: Record<string, number>;
  selection: EraseSelection;
  /** What `stopWhen` measured on the model edited through this round. */
  check?: RoundCheckResult;
  /** Seconds spent on this round's refit (the attribution it selected from; round 1: none) and on its check. */
  seconds: { refit: number; check: number };
}

/**
 * value: what is left to do (lower = better: the share still showing the concept when erasing, the share not yet
 * showing it when recalling); share: the judge's share of concept samples; stop: far enough; spoiled: the round cost
 * too much else; keep: the other values' share drawn right.
 */
export interface RoundCheckResult { value: number; stop: boolean; spoiled?: boolean; keep?: number; share?: number }

/** Measures the model edited so far (e.g. the share of its samples still showing the concept). */
export type RoundCheck = (edited: ModelHandle, round: number) => Promise<RoundCheckResult>;

/**
 * The union of up to `rounds` selections: round 1 is `first` (the rule applied to `attr`); round r > 1 refits `attr`'s
 * plan (seed + r − 1) on the model edited so far and applies the rule among the components not yet selected. With
 * `stopWhen`, the model edited through each round is checked, and the rounds end early when it says stop or spoiled;
 * a spoiled round is undone (round 1 excepted: it is the least edit there is), and when no kept round said stop, the
 * edit kept is that of the round with the lowest check value (the earliest of equals).
 */
export async function iteratedSelection(
  model: ModelHandle, attr: AttributionValue, first: EraseSelection, rule: EraseRule, rounds: number,
  hooks: GradientHooks & { onRound?(round: number, result: RoundResult): void; stopWhen?: RoundCheck } = {},
): Promise<{ selected: Map<string, Uint8Array>; rounds: RoundResult[]; kept: number }> {
  const plan = attr.provenance.plan as FitPlan | undefined;
  if (rounds > 1 && !plan) throw new Error('iterated erase needs the attribution\'s FitAttribution plan to refit it');
  const emptyUnion = () => new Map(attr.set.matrices.map((m) => [m.name, new Uint8Array(m.components)]));
  const union = emptyUnion();
  const results: RoundResult[] = [];
  let current = attr;
  let refit = 0;
  for (let round = 1; round <= rounds; round++) {
    const selection = round === 1 ? first : selectForErase(attr.set, current.scores, rule, union);
    addSelection(union, selection.selected);
    const result: RoundResult = {
      round, value: current.value, parts: current.provenance.parts as Record<string, number> | undefined, selection, seconds: { refit, check: 0 },
    };
    results.push(result);
    if (round === rounds && !hooks.stopWhen) {
      hooks.onRound?.(round, result);
      break;
    }
    const edited = model.withOverlay(zeroOverlay(attr.set, expandToWeights(attr.set, union), `iterated erase, ${round} rounds`));
    try {
      const t0 = performance.now();
      if (hooks.stopWhen) result.check = await hooks.stopWhen(edited, round);
      result.seconds.check = seconds(t0);
      hooks.onRound?.(round, result);
      if (result.check?.stop || result.check?.spoiled || round === rounds) break;
      hooks.throwIfAborted?.();
      const t1 = performance.now();
      const roundPlan = { ...plan!, seed: plan!.seed + round };
      const objective = await buildObjective(edited, roundPlan, hooks);
      try {
        current = await fitAttribution(attr.set, objective, edited.weights(), hooks, { plan: roundPlan });
      } finally {
        objective.dispose();
      }
      refit = seconds(t1);
    } finally {
      edited.dispose();
    }
  }
  const kept = keptRounds(results);
  if (kept === results.length) return { selected: union, rounds: results, kept };
  const keptUnion = emptyUnion();
  for (const r of results.slice(0, kept)) addSelection(keptUnion, r.selection.selected);
  return { selected: keptUnion, rounds: results, kept };
}

/** ORs a selection into a union of selections, matrix by matrix. */
function addSelection(union: Map<string, Uint8Array>, selected: ReadonlyMap<string, Uint8Array>): void {
  for (const [name, sel] of selected) {
    const u = union.get(name)!;
    for (let i = 0; i < sel.length; i++) u[i] |= sel[i]!;
  }
}

/**
 * How many rounds' edit to keep: a spoiled last round is dropped (unless it is round 1); of the others, all of them
 * unless checked rounds never said stop, then those through the round with the lowest check value (the earliest of
 * equals) — later rounds can undo what earlier ones erased.
 */
function keptRounds(results: RoundResult[]): number {
  const usable = results.length > 1 && results.at(-1)!.check?.spoiled ? results.slice(0, -1) : results;
  const last = usable.at(-1)!;
  if (!last.check || last.check.stop) return usable.length;
  let best = 0;
  usable.forEach((r, i) => { if (r.check!.value < usable[best]!.check!.value) best = i; });
  return best + 1;
}
