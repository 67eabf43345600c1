// The checks pack: Check (a metric within a range fails the run otherwise, so any workflow is a regression test)
// and Numbers (NUMBER outputs gathered into a SCORES column).
import { defineNodePack } from '../sdk/index.ts';
import { checkNode, numbersNode } from './check.ts';

export { CheckFailedError, measure } from './check.ts';

export default defineNodePack({ name: 'checks', nodes: [checkNode, numbersNode] });
