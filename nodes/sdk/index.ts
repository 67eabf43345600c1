export * from './sockets.ts';
export * from './values.ts';
export * from './errors.ts';
export * from './define.ts';
export { SDK_VERSION } from './version.ts';
export { initRuntime, tf, type BackendInfo } from './runtime.ts';
export * from './params-schema.ts';
// Re-exported so packs outside the repo need only the SDK import (`cadflow/sdk`).
export { z } from 'zod';
