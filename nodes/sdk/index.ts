export * from './sockets.ts';
export * from './values.ts';
export * from './errors.ts';
export * from './define.ts';
export { initRuntime, tf, type BackendInfo } from './runtime.ts';
export * from './params-schema.ts';
// Re-exported so packs outside the repo (<data>/nodes) need only the SDK import.
export { z } from 'zod';
