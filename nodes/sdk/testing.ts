// `cadflow/sdk/testing`: the headless harness a pack's own tests use to run its nodes in real workflows
// through the real engine (the same NodeContext the server gives them).
export { createHarness, Harness, HarnessRun, type HarnessOptions, type HarnessRunOptions } from '../../server/harness.ts';
